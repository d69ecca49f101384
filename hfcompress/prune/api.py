"""Pruning from Python or a recipe: load, score, prune, optionally recover, save.

``prune(cfg)`` is what ``hfcompress prune`` runs (the run contract of :mod:`hfcompress.methods.contract`:
it saves and returns a :class:`~hfcompress.methods.RunResult`; the caller evaluates). The method
itself is a strategy object from the registry (:mod:`hfcompress.prune.methods`); the pieces are public
too, so a user can prune a model held in memory (``prune_model``), fine-tune it (``recover``) and save it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn

from hfcompress.errors import HfCompressError
from hfcompress.hub.record import CompressionRecord
from hfcompress.prune.config import PruneConfig, PruneError
from hfcompress.prune.methods import PruneContext, PruningMethod, total_steps


def method_of(cfg: PruneConfig) -> PruningMethod:
    from hfcompress.methods.registry import variant_impl

    return variant_impl("prune", cfg.method)


def stage_name(cfg: PruneConfig) -> str:
    from hfcompress.methods.registry import variant

    return variant("prune", cfg.method).stage


def needs_data(cfg: PruneConfig) -> bool:
    """Whether ``cfg`` scores importance on data (explicit indices and magnitude scores need none)."""
    return method_of(cfg).needs_data(cfg)


def check_request(model: nn.Module, cfg: PruneConfig) -> None:
    """Check ``cfg`` against the model without changing it, so a bad request fails before data is
    scored, weights change or anything is written."""
    method_of(cfg).check(model, cfg)


def score_batches(task, preprocessor, cfg: PruneConfig) -> list[dict[str, torch.Tensor]]:
    """Collated batches (with labels) from the training split, for data-driven importance."""
    from hfcompress.tasks.batches import batches

    return list(batches(task, task.train_split, preprocessor, batch_size=min(cfg.batch_size, 64),
                        limit=cfg.score_samples, mirror=cfg.datasets_mirror, seed=cfg.seed,
                        max_length=cfg.max_length))


def _param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def prune_model(model: nn.Module, cfg: PruneConfig, batches: Optional[list[dict]] = None, *, task=None,
                preprocessor=None) -> dict[str, Any]:
    """Prune ``model`` in place as ``cfg`` asks; return the stage ``result`` for the record.

    Every check against the model happens before the first weight changes. ``batches`` are needed
    where the method scores on data (gradient importance, channels, drop_layers without ``drop``);
    ``task`` and ``preprocessor`` for vocabulary pruning (its new tokenizer is ``result["tokenizer"]``
    through :func:`prune_in_memory`). Gradual unstructured pruning happens in :func:`recover`.
    """
    return prune_in_memory(model, cfg, batches, task=task, preprocessor=preprocessor)[1]


def prune_in_memory(model: nn.Module, cfg: PruneConfig, batches: Optional[list[dict]] = None, *, task=None,
                    preprocessor=None) -> tuple[Any, dict[str, Any]]:
    """As :func:`prune_model`; returns ``(preprocessor, result)`` (vocabulary pruning changes the tokenizer)."""
    method = method_of(cfg)
    method.check(model, cfg)
    if method.needs_data(cfg) and not batches:
        raise PruneError(f"prune.importance: '{cfg.importance}' for method '{cfg.method}' needs data batches")
    params_before = _param_count(model)
    ctx = PruneContext(model=model, cfg=cfg, task=task, preprocessor=preprocessor, batches=batches)
    result = method.apply(ctx)
    result.update(params_before=params_before, params_after=_param_count(model))
    return ctx.preprocessor, result


def frozen_copy(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` in eval mode with every parameter frozen: the teacher of a
    ``recovery: distill`` fine-tune, taken before pruning changes the model."""
    import copy

    teacher = copy.deepcopy(model).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


def recover(model: nn.Module, cfg: PruneConfig, task, preprocessor, teacher: Optional[nn.Module] = None,
            callbacks: Optional[list] = None) -> dict[str, Any]:
    """Short fine-tune after (or, for gradual unstructured pruning, while) pruning.

    ``recovery: plain``: a plain ``transformers.Trainer`` on hard labels. ``recovery: distill``:
    hfcompress's :class:`~hfcompress.distill.trainer.DistillationTrainer` with ``teacher`` (the
    unpruned model, e.g. :func:`frozen_copy` taken before pruning) and the distillation loss
    ``logits`` (KL x T² at ``recovery_temperature``, weight 1) + ``ce`` (weight ``recovery_ce_weight``).
    The teacher is frozen in place and this function keeps no reference to it once training ends.
    Checkpoints go to a temporary folder: nothing is written at ``output_dir`` until the save.
    """
    import tempfile

    from transformers import set_seed

    from hfcompress.config import TrainConfig
    from hfcompress.tasks.batches import preprocessed
    from hfcompress.training.train import fit

    distill = cfg.recovery == "distill"
    if distill and teacher is None:
        raise PruneError("prune.recovery: 'distill' needs the unpruned model as teacher (recover(..., teacher=); "
                         "take it with frozen_copy(model) before pruning)")
    set_seed(cfg.seed)
    tcfg = TrainConfig(task=task.describe(), model=cfg.model, output_dir=cfg.output_dir, epochs=cfg.finetune_epochs,
                       learning_rate=cfg.learning_rate, batch_size=cfg.batch_size, max_length=cfg.max_length,
                       max_train_samples=cfg.max_train_samples, seed=cfg.seed, threads=cfg.threads,
                       datasets_mirror=cfg.datasets_mirror, logging_steps=10 ** 9)
    data = preprocessed(task, task.train_split, preprocessor, limit=cfg.max_train_samples,
                        mirror=cfg.datasets_mirror, seed=cfg.seed, max_length=cfg.max_length, train=True)
    schedule = method_of(cfg).recovery_callbacks(model, cfg, total_steps(len(data), cfg.batch_size,
                                                                         cfg.finetune_epochs))
    result: dict[str, Any] = {"kind": cfg.recovery}
    overrides = {"save_strategy": "no", "disable_tqdm": True}
    with tempfile.TemporaryDirectory(prefix="hfcompress-prune-") as tmp:
        if not distill:
            trainer, out = fit(model, task, preprocessor, tcfg, tmp, data, callbacks=[*schedule, *(callbacks or [])],
                               args_overrides=overrides)
        else:
            from hfcompress.distill.trainer import (DistillationTrainer, DistillationTrainingArguments,
                                                    detach_distiller)

            losses = [{"name": "logits", "weight": 1.0}, {"name": "ce", "weight": cfg.recovery_ce_weight}]
            result["teacher_params"] = _param_count(teacher)
            overrides.update(temperature=cfg.recovery_temperature, distill_losses=losses,
                             regression=task.is_regression)
            try:
                trainer, out = fit(model, task, preprocessor, tcfg, tmp, data, trainer_class=DistillationTrainer,
                                   args_class=DistillationTrainingArguments, args_overrides=overrides,
                                   callbacks=[*schedule, *(callbacks or [])], teacher=teacher)
            finally:
                detach_distiller(model)  # loss modules and hooks off the student before it is saved
            del teacher
            trainer.teacher = None
            result["temperature"] = cfg.recovery_temperature
            result["losses"] = trainer.distiller.description
            result["loss_terms"] = {k: round(v, 6) for k, v in trainer.term_means().items()}
        del trainer
    _release_memory()
    model.eval()
    result.update(train_loss=out.training_loss, steps=out.global_step, examples=len(data))
    if schedule:
        result["schedule"] = [[s, round(v, 6)] for s, v in schedule[0].history]
    return result


def _release_memory() -> None:
    """Collect what a finished Trainer left (reference cycles hold the teacher) and return cached GPU memory."""
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def save_pruned(model: nn.Module, output_dir: str | Path, record: CompressionRecord, preprocessor=None,
                card: Optional[str] = None, overwrite: Optional[bool] = None) -> Path:
    """Save atomically through the method's weights writer (unstructured ``packed``: bitmask + non-zeros)."""
    from hfcompress.hub.save import save_compressed
    from hfcompress.methods.registry import stage_variant, variant_impl

    last = record.stages[-1] if record.stages else None
    writer = None
    if last is not None:
        for v in stage_variant(last.method):
            writer = writer or variant_impl(v.family, v.name).write_weights(model, last.result)
    return save_compressed(model, output_dir, record, preprocessor, card=card, write_weights=writer,
                           overwrite=overwrite)


def load_for_pruning(cfg: PruneConfig, task):
    """(model, preprocessor, record so far) from a saved model (any hfcompress stage) or scratch:."""
    from hfcompress.models.zoo import is_scratch

    if is_scratch(cfg.model):
        from hfcompress.training.train import build_model

        model, preprocessor = build_model(cfg.model, task)
        return model, preprocessor, CompressionRecord(base_model=cfg.model, task=task.describe())
    from hfcompress.hub.load import load

    return _from_loaded(load(cfg.model, task=task), cfg, task)


def _from_loaded(loaded, cfg: PruneConfig, task):
    from hfcompress.prune.config import check_not_quantized

    if isinstance(loaded.model, nn.Module):
        check_not_quantized(loaded.model)
    if not isinstance(loaded.model, nn.Module) or loaded.loader != "pytorch":
        raise HfCompressError(f"{cfg.model}: loaded by {loaded.loader!r}, not a float PyTorch model; prune before "
                              "exporting or quantizing")
    record = loaded.record or CompressionRecord(base_model=cfg.model, task=task.describe())
    return loaded.model, loaded.preprocessor, record


def prune(cfg: PruneConfig, *, model=None, resume: bool = False, overwrite: bool = False,
          callbacks: Optional[list] = None):
    """Run a whole pruning recipe (on ``cfg.model``, or the loaded ``model``); save; return a RunResult."""
    from transformers import set_seed

    from hfcompress.evaluation.efficiency import set_threads
    from hfcompress.hub.card import model_card
    from hfcompress.methods.contract import RunResult
    from hfcompress.tasks import get_task

    from hfcompress.hub.save import check_output_dir, folder_of

    if resume:
        raise HfCompressError("prune: --resume does not apply (pruning keeps no checkpoints); run it again")
    check_output_dir(cfg.output_dir, inputs=[cfg.model, folder_of(model)], overwrite=overwrite)
    task = get_task(cfg.task, mirror=cfg.datasets_mirror)
    set_threads(cfg.threads)
    set_seed(cfg.seed)
    net, preprocessor, record = (_from_loaded(model, cfg, task) if model is not None
                                 else load_for_pruning(cfg, task))
    net.eval()
    check_request(net, cfg)
    if cfg.method == "drop_layers":
        from hfcompress.prune.layers import check_history

        check_history(record)
    batches = score_batches(task, preprocessor, cfg) if needs_data(cfg) else None
    # recovery by distillation: the unpruned model, frozen, teaches the pruned one; released after
    teacher = frozen_copy(net) if cfg.recovery == "distill" and cfg.finetune_epochs > 0 else None
    preprocessor, result = prune_in_memory(net, cfg, batches, task=task, preprocessor=preprocessor)
    if cfg.finetune_epochs > 0:
        result["recovery"] = recover(net, cfg, task, preprocessor, teacher=teacher, callbacks=callbacks)
        teacher = None
        _release_memory()
        if cfg.method == "unstructured":
            from hfcompress.prune.unstructured import prunable_weights, sparsity_of

            result["sparsity"] = sparsity_of(prunable_weights(net))
    result["params_after"] = _param_count(net)
    record = record.with_stage(stage_name(cfg), params=cfg.to_dict(), result=result)
    card = model_card(record, task, title=f"{Path(cfg.output_dir).name} ({task.name}, pruned: {cfg.method})")
    save_pruned(net, cfg.output_dir, record, preprocessor, card=card, overwrite=overwrite)
    brief = {k: v for k, v in result.items() if k not in ("module_shapes", "pruned_tensors", "kept_heads")}
    return RunResult(Path(cfg.output_dir), record.stages[-1], {"method": cfg.method, "result": brief})


def evaluations(cfg: PruneConfig) -> list:
    """What the caller evaluates after pruning: the pruned model (``eval_limit: 0`` skips it)."""
    from hfcompress.config import EvalConfig

    if cfg.eval_limit == 0:
        return []
    return [("pruned", EvalConfig(task=cfg.task, model=cfg.output_dir, limit=cfg.eval_limit,
                                  max_length=cfg.max_length, threads=cfg.threads,
                                  datasets_mirror=cfg.datasets_mirror))]

"""Pruning from Python or a recipe: load, score, prune, optionally recover, save, evaluate.

``prune(cfg)`` is what ``hfcompress prune`` runs. The pieces are public too, so benchmarks and
users can prune a model they hold in memory (``prune_model``), fine-tune it (``recover``) and
save it (``save_pruned``) without going through files in between.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn
from torch.utils.data import DataLoader

from hfcompress.errors import HfCompressError
from hfcompress.hub.record import CompressionRecord
from hfcompress.prune.config import PruneConfig, PruneError

METHOD_STAGE = {"heads": "prune_heads", "ffn": "prune_ffn", "channels": "prune_channels",
                "unstructured": "prune_unstructured", "drop_layers": "prune_layers",
                "vocab": "prune_vocab"}


def needs_data(cfg: PruneConfig) -> bool:
    """Whether ``cfg`` scores importance on data (explicit indices and magnitude scores need none)."""
    if cfg.method == "drop_layers":
        return cfg.drop is None
    return cfg.method == "channels" or (cfg.importance == "gradient" and cfg.method in ("heads", "ffn")
                                        and cfg.layers is None)


def score_batches(task, preprocessor, cfg: PruneConfig) -> list[dict[str, torch.Tensor]]:
    """Collated batches (with labels) from the training split, for data-driven importance."""
    raw = task.load(task.train_split, limit=cfg.score_samples, mirror=cfg.datasets_mirror, shuffle_seed=cfg.seed)
    data = task.preprocess(raw, preprocessor, cfg.max_length, train=False)
    return list(DataLoader(data, batch_size=min(cfg.batch_size, 64), collate_fn=task.collator(preprocessor)))


def _param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _input_embeddings(model: nn.Module):
    try:
        return model.get_input_embeddings()
    except (AttributeError, NotImplementedError):  # e.g. ResNets (transformers raises NotImplementedError)
        return None


def check_request(model: nn.Module, cfg: PruneConfig) -> None:
    """Check ``cfg`` against the model (architecture, layer/head indices, counts) without changing it,
    so a bad request fails before data is scored, weights change or anything is written."""
    if cfg.method == "heads":
        from hfcompress.prune import heads as H

        counts = H.heads_per_layer(model)
        H.heads_to_remove(counts, [torch.zeros(n) for n in counts], count=cfg.count, amount=cfg.amount,
                          layers=cfg.layers, scope=cfg.scope)
    elif cfg.method == "ffn":
        from hfcompress.prune.heads import encoder_layers

        encoder_layers(model)
    elif cfg.method == "channels" and not any(isinstance(m, nn.Conv2d) for m in model.modules()):
        raise PruneError(f"prune.method: 'channels' prunes convolutions; {type(model).__name__} has none")
    elif cfg.method == "vocab" and not isinstance(_input_embeddings(model), nn.Embedding):
        raise PruneError(f"prune.method: 'vocab' prunes token embeddings; {type(model).__name__} has none")
    elif cfg.method == "drop_layers":
        from hfcompress.prune import layers as L

        if cfg.drop is not None:
            L.check_drop(model, cfg.drop)
        else:
            L.choose(model, [0.0 if ok else None for ok in L.removable(model)], *_drop_count(model, cfg))


def _drop_count(model: nn.Module, cfg: PruneConfig) -> tuple[int, str]:
    """drop_layers: (number of layers/blocks to remove, the field that asked for it)."""
    from hfcompress.prune.layers import units

    if cfg.count is not None:
        return cfg.count, "prune.count"
    return round((cfg.amount or 0.0) * len(units(model))), "prune.amount"


def prune_model(model: nn.Module, cfg: PruneConfig, batches: Optional[list[dict]] = None) -> dict[str, Any]:
    """Prune ``model`` in place as ``cfg`` asks; return the stage ``result`` for the record.

    Every check against the model (layer and head indices, counts, architecture) happens before
    the first weight changes. ``batches`` are needed for ``importance='gradient'`` (and channels, and
    drop_layers without ``drop``).
    Unstructured pruning here is the one-shot part; gradual pruning happens in :func:`recover`.
    """
    if cfg.method == "vocab":
        raise PruneError("prune.method: 'vocab' changes the tokenizer too; call prune_vocab_for_task")
    check_request(model, cfg)
    params_before = _param_count(model)
    if needs_data(cfg) and not batches:
        raise PruneError(f"prune.importance: '{cfg.importance}' for method '{cfg.method}' needs data batches")
    if cfg.method == "heads":
        from hfcompress.prune import heads as H

        counts = H.heads_per_layer(model)
        scores = None if cfg.layers is not None else H.head_importance(model, cfg.importance, batches)
        remove = H.heads_to_remove(counts, scores, count=cfg.count, amount=cfg.amount, layers=cfg.layers,
                                   scope=cfg.scope)
        kept = H.prune_heads(model, remove)
        result = {"kept_heads": kept, "heads_per_layer": [len(k) for k in kept],
                  "heads_removed": sum(len(r) for r in remove), "heads_before": sum(counts)}
    elif cfg.method == "ffn":
        from hfcompress.prune import structured as S

        before = S.ffn_widths(model)
        kept = S.neurons_to_keep(S.ffn_importance(model, cfg.importance, batches), cfg.amount or 0.0, cfg.scope)
        S.keep_neurons(model, kept)
        result = {"ffn_widths": S.ffn_widths(model), "ffn_widths_before": before}
    elif cfg.method == "channels":
        from hfcompress.prune import structured as S

        if not batches:
            raise PruneError("channel pruning needs one batch of data to trace the model")
        example = {"pixel_values": batches[0]["pixel_values"][:1]}  # MACs per image
        shapes_before = S.module_shapes(model)

        def loss_fn():
            return sum(model(**b).loss for b in batches) / len(batches)

        was_training = model.training
        model.eval()
        measured = S.prune_channels(model, example, kind=cfg.importance, amount=cfg.amount,
                                    mac_reduction=cfg.mac_reduction, loss_fn=loss_fn)
        model.train(was_training)
        result = {"module_shapes": S.changed_shapes(shapes_before, S.module_shapes(model)), **measured}
    elif cfg.method == "drop_layers":
        from hfcompress.prune import layers as L

        n = len(L.units(model))
        result = {"layers_before": n}
        drop = cfg.drop
        if drop is None:  # rank by the measured loss increase when each layer is skipped
            base_loss, scores = L.skip_importance(model, batches)
            drop = L.choose(model, scores, *_drop_count(model, cfg))
            result.update(base_loss=base_loss, loss_increase=scores)
        result.update(dropped=sorted(drop), kept=[i for i in range(n) if i not in set(drop)])
        result.update(L.drop_units(model, drop))
    else:
        from hfcompress.prune import unstructured as U

        if cfg.schedule == "oneshot":
            U.prune_oneshot(model, cfg.amount or 0.0, cfg.scope)
        weights = U.prunable_weights(model)
        result = {"storage": cfg.storage, "pruned_tensors": sorted(weights), "sparsity": U.sparsity_of(weights)}
    result.update(params_before=params_before, params_after=_param_count(model))
    return result


def frozen_copy(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` in eval mode with every parameter frozen: the teacher of a
    ``recovery: distill`` fine-tune, taken before pruning changes the model."""
    import copy

    teacher = copy.deepcopy(model).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


def recover(model: nn.Module, cfg: PruneConfig, task, preprocessor, teacher: Optional[nn.Module] = None) -> dict[str, Any]:
    """Short fine-tune after (or, for gradual unstructured pruning, while) pruning.

    ``recovery: plain``: a plain ``transformers.Trainer`` on hard labels. ``recovery: distill``:
    hfcompress's :class:`~hfcompress.distill.trainer.DistillationTrainer` with ``teacher`` (the
    unpruned model, e.g. :func:`frozen_copy` taken before pruning) and the distillation loss
    ``logits`` (KL x T² at ``recovery_temperature``, weight 1) + ``ce`` (weight ``recovery_ce_weight``).
    The teacher is frozen in place (eval mode, no gradients) and this function keeps no reference
    to it: once the caller drops its own, the memory is released.
    Both use hfcompress's training defaults; unstructured masks are held fixed (and, on the gradual
    schedule, grown) by :class:`GradualPruningCallback`.
    Checkpoints go to a temporary folder: nothing is written at ``output_dir`` until the save.
    """
    from transformers import Trainer, set_seed

    from hfcompress.config import TrainConfig
    from hfcompress.training.train import training_arguments

    distill = cfg.recovery == "distill"
    if distill and teacher is None:
        raise PruneError("prune.recovery: 'distill' needs the unpruned model as teacher (recover(..., teacher=); "
                         "take it with frozen_copy(model) before pruning)")
    set_seed(cfg.seed)
    tcfg = TrainConfig(task=task.name, model=cfg.model, output_dir=cfg.output_dir, epochs=cfg.finetune_epochs,
                       learning_rate=cfg.learning_rate, batch_size=cfg.batch_size, max_length=cfg.max_length,
                       max_train_samples=cfg.max_train_samples, seed=cfg.seed, threads=cfg.threads,
                       datasets_mirror=cfg.datasets_mirror, logging_steps=10 ** 9)
    raw = task.load(task.train_split, limit=cfg.max_train_samples, mirror=cfg.datasets_mirror, shuffle_seed=cfg.seed)
    data = task.preprocess(raw, preprocessor, cfg.max_length, train=True)
    callbacks, schedule = [], None
    if cfg.method == "unstructured":
        from hfcompress.prune.unstructured import GradualPruningCallback

        total = max(1, math.ceil(math.ceil(len(data) / cfg.batch_size) * cfg.finetune_epochs))
        if cfg.schedule == "gradual":
            start, end = round(cfg.schedule_start * total), max(1, round(cfg.schedule_end * total))
            schedule = GradualPruningCallback(model, cfg.amount or 0.0, start, end, cfg.schedule_updates,
                                              cfg.initial_sparsity, cfg.scope)
        else:  # one-shot: prune again at step 0 (same masks) and hold them fixed while training
            schedule = GradualPruningCallback(model, cfg.amount or 0.0, 0, 0, 1, scope=cfg.scope)
        callbacks.append(schedule)
    result: dict[str, Any] = {"kind": cfg.recovery}
    with tempfile.TemporaryDirectory(prefix="hfcompress-prune-") as tmp:
        if not distill:
            args = training_arguments(tcfg, len(data), Path(tmp), save_strategy="no", disable_tqdm=True)
            trainer = Trainer(model=model, args=args, train_dataset=data, data_collator=task.collator(preprocessor),
                              callbacks=callbacks)
            out = trainer.train()
        else:
            from hfcompress.distill.trainer import (DistillationTrainer, DistillationTrainingArguments,
                                                    detach_distiller)

            losses = [{"name": "logits", "weight": 1.0}, {"name": "ce", "weight": cfg.recovery_ce_weight}]
            args = training_arguments(tcfg, len(data), Path(tmp), args_class=DistillationTrainingArguments,
                                      save_strategy="no", disable_tqdm=True, temperature=cfg.recovery_temperature,
                                      distill_losses=losses, regression=task.is_regression)
            result["teacher_params"] = _param_count(teacher)
            trainer = DistillationTrainer(model=model, args=args, teacher=teacher, train_dataset=data,
                                          data_collator=task.collator(preprocessor), callbacks=callbacks)
            del teacher  # the trainer holds the only reference this function keeps
            try:
                out = trainer.train()
            finally:
                detach_distiller(model)  # loss modules and hooks off the student before it is saved
                trainer.teacher = None
            result["temperature"] = cfg.recovery_temperature
            result["losses"] = trainer.distiller.description
            result["loss_terms"] = {k: round(v, 6) for k, v in trainer.term_means().items()}
        del trainer
    _release_memory()
    model.eval()
    result.update(train_loss=out.training_loss, steps=out.global_step, examples=len(data))
    if schedule is not None:
        result["schedule"] = [[s, round(v, 6)] for s, v in schedule.history]
    return result


def _release_memory() -> None:
    """Collect what a finished Trainer left (reference cycles hold the teacher) and return cached GPU memory."""
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def save_pruned(model: nn.Module, output_dir: str | Path, record: CompressionRecord, preprocessor=None,
                card: Optional[str] = None) -> Path:
    """Save atomically; unstructured stages with ``storage: packed`` store bitmask + non-zeros."""
    from hfcompress.hub.save import atomic_directory, save_compressed

    last = record.stages[-1] if record.stages else None
    if last is None or last.method != "prune_unstructured" or last.result.get("storage") != "packed":
        return save_compressed(model, output_dir, record, preprocessor, card=card)
    from safetensors.torch import load_file, save_file

    from hfcompress.prune.unstructured import pack_state_dict

    output_dir = Path(output_dir)
    record.attach(model.config)
    with atomic_directory(output_dir) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        state: dict[str, torch.Tensor] = {}
        for f in sorted(tmp.glob("*.safetensors")):
            state.update(load_file(str(f)))
            f.unlink()
        (tmp / "model.safetensors.index.json").unlink(missing_ok=True)
        names = [n for n in last.result["pruned_tensors"] if n in state]
        save_file(pack_state_dict(state, names), str(tmp / "model.safetensors"), metadata={"format": "pt"})
        if preprocessor is not None:
            preprocessor.save_pretrained(tmp)
        if card is not None:
            (tmp / "README.md").write_text(card)
    return output_dir


def prune_vocab_for_task(model: nn.Module, tokenizer, task, cfg: PruneConfig):
    """Vocabulary pruning on the task's training text; returns (pruned tokenizer, stage result).

    Unlike the other methods it changes the preprocessor too, so it is not part of ``prune_model``."""
    from hfcompress.prune import vocab as V

    check_request(model, cfg)
    params_before = _param_count(model)
    raw = task.load(task.train_split, limit=cfg.vocab_samples, mirror=cfg.datasets_mirror, shuffle_seed=cfg.seed)
    used = V.used_token_ids(task.preprocess(raw, tokenizer, cfg.max_length, train=False))
    tokenizer, result = V.prune_vocab(model, tokenizer, used, keep_chars=cfg.vocab_keep_chars)
    result.update(text_examples=len(raw), tokens_used=len(used), params_before=params_before,
                  params_after=_param_count(model))
    return tokenizer, result


def load_for_pruning(cfg: PruneConfig, task):
    """(model, preprocessor, record so far) from a saved model (any hfcompress stage) or scratch:."""
    from hfcompress.models.zoo import is_scratch

    if is_scratch(cfg.model):
        from hfcompress.training.train import build_model

        model, preprocessor = build_model(cfg.model, task)
        return model, preprocessor, CompressionRecord(base_model=cfg.model, task=task.name)
    from hfcompress.hub.load import load

    loaded = load(cfg.model, task=task)
    if not isinstance(loaded.model, nn.Module):
        raise HfCompressError(f"{cfg.model}: loaded by {loaded.loader!r}, not a PyTorch model; prune before "
                              "exporting or quantizing")
    record = loaded.record or CompressionRecord(base_model=cfg.model, task=task.name)
    return loaded.model, loaded.preprocessor, record


def prune(cfg: PruneConfig) -> dict[str, Any]:
    """Run a whole pruning recipe; return the stage result and (unless ``eval_limit: 0``) an evaluation."""
    from transformers import set_seed

    from hfcompress.config import EvalConfig
    from hfcompress.evaluation.efficiency import set_threads
    from hfcompress.evaluation.run import evaluate_model
    from hfcompress.hub.card import model_card
    from hfcompress.tasks import get_task

    task = get_task(cfg.task)
    set_threads(cfg.threads)
    set_seed(cfg.seed)
    model, preprocessor, record = load_for_pruning(cfg, task)
    model.eval()
    check_request(model, cfg)
    if cfg.method == "drop_layers":
        from hfcompress.prune.layers import check_history

        check_history(record)
    batches = score_batches(task, preprocessor, cfg) if needs_data(cfg) else None
    # recovery by distillation: the unpruned model, frozen, teaches the pruned one; released after
    teacher = frozen_copy(model) if cfg.recovery == "distill" and cfg.finetune_epochs > 0 else None
    if cfg.method == "vocab":
        preprocessor, result = prune_vocab_for_task(model, preprocessor, task, cfg)
    else:
        result = prune_model(model, cfg, batches)
    if cfg.finetune_epochs > 0:
        result["recovery"] = recover(model, cfg, task, preprocessor, teacher=teacher)
        teacher = None
        _release_memory()
        if cfg.method == "unstructured":
            from hfcompress.prune.unstructured import prunable_weights, sparsity_of

            result["sparsity"] = sparsity_of(prunable_weights(model))
    result["params_after"] = _param_count(model)
    record = record.with_stage(METHOD_STAGE[cfg.method], params=cfg.to_dict(), result=result)
    card = model_card(record, task, title=f"{Path(cfg.output_dir).name} ({task.name}, pruned: {cfg.method})")
    save_pruned(model, cfg.output_dir, record, preprocessor, card=card)
    out: dict[str, Any] = {"output_dir": cfg.output_dir, "method": cfg.method,
                           "result": {k: v for k, v in result.items() if k not in ("module_shapes", "pruned_tensors",
                                                                                     "kept_heads")}}
    if cfg.eval_limit != 0:
        out["eval"] = evaluate_model(EvalConfig(task=task.name, model=cfg.output_dir, limit=cfg.eval_limit,
                                                max_length=cfg.max_length, threads=cfg.threads,
                                                datasets_mirror=cfg.datasets_mirror))
    return out

"""Fine-tuning a model on a task with a plain ``transformers.Trainer``.

The same path serves text and image tasks: the Task supplies data, preprocessing, collator,
metric and head; this module supplies sensible Trainer defaults, resumable checkpoints under
``<output_dir>/checkpoints``, and the final save in hfcompress's model format.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path
from typing import Any, Optional

import torch
from transformers import Trainer, TrainingArguments, set_seed
from transformers.trainer_utils import get_last_checkpoint

from hfcompress.config import TrainConfig
from hfcompress.config.recipe import TrainingConfig
from hfcompress.errors import HfCompressError, TaskError
from hfcompress.evaluation.efficiency import set_threads
from hfcompress.hub.card import model_card
from hfcompress.hub.load import load, resolve_model_dir
from hfcompress.hub.record import CompressionRecord
from hfcompress.hub.save import check_output_dir, folder_of, save_compressed
from hfcompress.models.zoo import is_scratch, scratch_config, scratch_preprocessor
from hfcompress.tasks import Task, get_task
from hfcompress.tasks.batches import preprocessed

HEAD_SUFFIXES = ("ForSequenceClassification", "ForImageClassification")


def build_model(name_or_path: str, task: Task, reinit_head: bool = False):
    """A model with ``task``'s head, and its preprocessor.

    A checkpoint that already has a classification head for a different number of labels is an
    error (it was fine-tuned for something else) unless ``reinit_head`` asks for a fresh head.
    A checkpoint without such a head (a base encoder) gets a new one.
    """
    labels = task.label_maps()
    if is_scratch(name_or_path):
        config = scratch_config(name_or_path, **labels)
        return task.model_class.from_config(config), scratch_preprocessor(name_or_path)
    from transformers import AutoConfig

    path = resolve_model_dir(name_or_path)
    # No pickle on any path: the weights must be safetensors (a pytorch_model.bin can run code when unpickled)
    from hfcompress.errors import ModelLoadError
    from hfcompress.hub.load import read_config
    from hfcompress.hub.validate import check_folder

    if not any(path.glob("*.safetensors")):
        pickles = sorted(p.name for p in path.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".pkl", ".ckpt"))
        found = f" (found {', '.join(pickles[:3])}: pickle, which hfcompress never loads)" if pickles else ""
        raise ModelLoadError(f"{path} has no .safetensors weights{found}; re-save with "
                             "save_pretrained(..., safe_serialization=True)")
    check_folder(path, read_config(path))
    config = AutoConfig.from_pretrained(path)
    if CompressionRecord.from_model_config(config) is not None and not reinit_head:
        # A model hfcompress saved (pruned, distilled ...): its skeleton is rebuilt by the loader.
        loaded = load(path, task=task)
        return loaded.model.train(), loaded.preprocessor
    has_head = any(a.endswith(HEAD_SUFFIXES) for a in (getattr(config, "architectures", None) or []))
    if has_head and config.num_labels != task.num_labels and not reinit_head:
        raise TaskError(f"model {name_or_path} has a classifier for {config.num_labels} labels but task "
                        f"{task.name!r} needs {task.num_labels}; pass --reinit-head to replace the head")
    model = task.model_class.from_pretrained(path, ignore_mismatched_sizes=reinit_head, use_safetensors=True,
                                             **labels)
    return model, task.load_preprocessor(str(path))


def training_arguments(cfg: TrainingConfig, n_train: int, output_dir: Path, args_class: type = TrainingArguments,
                       **overrides: Any) -> TrainingArguments:
    """Trainer defaults shared by fine-tuning and distillation (``args_class``: a TrainingArguments subclass)."""
    steps_per_epoch = math.ceil(n_train / (cfg.batch_size * cfg.gradient_accumulation_steps))
    total_steps = max(1, math.ceil(steps_per_epoch * cfg.epochs))
    kwargs: dict[str, Any] = dict(
        output_dir=str(output_dir),
        num_train_epochs=cfg.epochs,
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.eval_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        learning_rate=cfg.learning_rate,
        weight_decay=cfg.weight_decay,
        # warmup given in steps: warmup_ratio is deprecated on the transformers 5.x line
        warmup_steps=int(cfg.warmup_ratio * total_steps),
        logging_steps=cfg.logging_steps,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        eval_strategy="no",
        seed=cfg.seed,
        report_to="none",
        remove_unused_columns=False,  # image tasks transform raw columns on the fly
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
    )
    kwargs.update(overrides)
    # transformers 4.x reads ACCELERATE_MIXED_PRECISION from the environment, where an earlier bf16/fp16
    # run in the same process left it: set it to what this run asks for, so precision never leaks.
    os.environ["ACCELERATE_MIXED_PRECISION"] = "bf16" if kwargs.get("bf16") else "fp16" if kwargs.get("fp16") else "no"
    return args_class(**kwargs)


def resolve_checkpoint(output_dir: Path, resume: bool, overwrite: bool) -> tuple[Path, Optional[str]]:
    """(checkpoint folder, last checkpoint or None) for a run writing to ``output_dir``.

    Existing checkpoints are never silently reused or overwritten: the caller must say --resume or
    --overwrite. Shared by every Trainer-based command (train, distill, QAT ...).
    """
    checkpoint_dir = Path(output_dir) / "checkpoints"
    last = get_last_checkpoint(str(checkpoint_dir)) if checkpoint_dir.is_dir() else None
    if resume and last is None:
        raise HfCompressError(f"--resume: no checkpoint to resume from in {checkpoint_dir}")
    if last is not None and not resume and not overwrite:
        raise HfCompressError(f"{checkpoint_dir} already holds checkpoints; pass --resume to continue "
                              "or --overwrite to start again")
    return checkpoint_dir, last


def fit(model, task: Task, preprocessor, cfg: TrainingConfig, output_dir: str | Path, train_data, *,
        trainer_class: type = Trainer, args_class: type = TrainingArguments, collator=None, eval_data=None,
        callbacks: Optional[list] = None, resume_from: Optional[str] = None,
        args_overrides: Optional[dict[str, Any]] = None, **trainer_kwargs: Any):
    """The one fine-tuning helper: hfcompress's Trainer defaults around ``trainer_class`` (a
    ``transformers.Trainer`` or subclass); used by ``train``, pruning recovery, QAT and distillation.

    Returns ``(trainer, train_output)``; the caller saves the model.
    """
    args = training_arguments(cfg, len(train_data), Path(output_dir), args_class=args_class,
                              **(args_overrides or {}))
    trainer = trainer_class(model=model, args=args, train_dataset=train_data, eval_dataset=eval_data,
                            data_collator=collator or task.collator(preprocessor), callbacks=callbacks,
                            **trainer_kwargs)
    return trainer, trainer.train(resume_from_checkpoint=resume_from)


def train(cfg: TrainConfig, *, model=None, resume: bool = False, overwrite: bool = False,
          callbacks: Optional[list] = None):
    """Fine-tune ``cfg.model`` (or the loaded ``model``) on ``cfg.task``; save to ``cfg.output_dir``.

    The Trainer's own evaluation of the eval split (``eval_at_end``) is stored in the record stage.
    """
    from hfcompress.methods.contract import RunResult

    task = get_task(cfg.task, mirror=cfg.datasets_mirror)
    task.check_holdout()
    set_threads(cfg.threads)
    set_seed(cfg.seed)
    output_dir = check_output_dir(cfg.output_dir, inputs=[cfg.model, folder_of(model)], overwrite=overwrite,
                                  resume=resume)
    checkpoint_dir, last = resolve_checkpoint(output_dir, resume, overwrite)

    if model is not None:
        net, preprocessor, start = model.model.train(), model.preprocessor, model.record
    else:
        net, preprocessor = build_model(cfg.model, task, reinit_head=cfg.reinit_head)
        start = CompressionRecord.from_model_config(net.config)
    train_data = preprocessed(task, task.train_split, preprocessor, limit=cfg.max_train_samples,
                              mirror=cfg.datasets_mirror, seed=cfg.seed, max_length=cfg.max_length,
                              train=cfg.augment)
    eval_data = preprocessed(task, task.eval_splits[0], preprocessor, limit=cfg.max_eval_samples,
                             mirror=cfg.datasets_mirror, seed=None, max_length=cfg.max_length)

    if overwrite and last is not None:
        shutil.rmtree(checkpoint_dir)
    trainer, train_result = fit(net, task, preprocessor, cfg, checkpoint_dir, train_data, eval_data=eval_data,
                                callbacks=callbacks, resume_from=last if resume else None,
                                processing_class=preprocessor, compute_metrics=task.compute_metrics)
    metrics = trainer.evaluate() if cfg.eval_at_end else {}

    # continue the input model's history (e.g. fine-tuning after pruning), or start one
    record = start or CompressionRecord(base_model=cfg.model, task=task.describe())
    record = record.with_stage(
        "finetune", params=cfg.to_dict(),
        result={"train_loss": train_result.training_loss, "global_step": train_result.global_step,
                "eval": {k: v for k, v in metrics.items() if isinstance(v, (int, float))}},
    )
    if trainer.is_world_process_zero():
        card = model_card(record, task, {k.removeprefix("eval_"): v for k, v in metrics.items()
                                         if k.removeprefix("eval_") in ("accuracy", "f1", "matthews_correlation",
                                                                        "pearson", "spearmanr")},
                          title=f"{Path(cfg.output_dir).name} ({task.name})")
        save_compressed(trainer.model, output_dir, record, preprocessor, card=card, overwrite=overwrite or resume)
    return RunResult(output_dir, record.stages[-1], {"train_loss": train_result.training_loss,
                                                     "global_step": train_result.global_step, **metrics})

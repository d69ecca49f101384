"""One whole distillation: load teacher, build student, check everything, train, evaluate, save.

Modelled on :func:`hfcompress.training.train.train`: same checkpoint folder, resume/overwrite
rules, save path (``save_compressed``) and model card. Everything a user can get wrong is
checked in :func:`prepare` before the Trainer exists.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from pathlib import Path
from typing import Any, Optional

import torch
from transformers import set_seed

from hfcompress.config import EvalConfig
from hfcompress.distill.config import DistillConfig
from hfcompress.distill.distiller import Distiller, build_distiller
from hfcompress.distill.features import num_layers
from hfcompress.distill.students import build_student, selected_layers
from hfcompress.distill.trainer import (INDEX_KEY, TEACHER_LOGITS_KEY, DistillCollator, DistillationTrainer,
                                        DistillationTrainingArguments, IndexedDataset, detach_distiller,
                                        precompute_teacher_logits)
from hfcompress.errors import ConfigError, ModelLoadError
from hfcompress.evaluation.efficiency import set_threads
from hfcompress.hub.load import LoadedModel, load
from hfcompress.tasks import Task, get_task
from hfcompress.tasks.batches import preprocessed


@dataclasses.dataclass
class Prepared:
    """Everything built and checked before training starts."""

    cfg: DistillConfig
    task: Task
    teacher: LoadedModel
    student: torch.nn.Module
    preprocessor: Any
    train_dataset: IndexedDataset
    collator: DistillCollator
    distiller: Distiller
    offline_seconds: Optional[float] = None
    augmentation: Optional[dict] = None  # what text_augmentation added (augment.augment_dataset's stats)


def _labels_of(config) -> dict[int, str]:
    return {int(k): str(v) for k, v in (getattr(config, "id2label", None) or {}).items()}


def check_labels(teacher_config, student_config, task: Task, where: str = "distill") -> None:
    """Teacher and student must predict the same labels, in the same order, as the task."""
    if teacher_config.num_labels != student_config.num_labels:
        raise ConfigError(f"{where}: teacher has {teacher_config.num_labels} labels but the student has "
                          f"{student_config.num_labels}")
    if task.num_labels != student_config.num_labels:
        raise ConfigError(f"{where}.student: {student_config.num_labels} labels, task {task.name!r} needs {task.num_labels}")
    t, s = _labels_of(teacher_config), _labels_of(student_config)
    generic = lambda m: all(v == f"LABEL_{k}" for k, v in m.items())  # noqa: E731 - unnamed labels carry no order
    if t and s and t != s and not generic(t) and not generic(s):
        raise ConfigError(f"{where}: teacher labels {t} and student labels {s} differ (order or names)")


def prepare(cfg: DistillConfig, teacher: Optional[LoadedModel] = None) -> Prepared:
    """Load the teacher (unless given), build the student and data, build and check every loss term."""
    task = get_task(cfg.task, mirror=cfg.datasets_mirror)
    task.check_holdout()
    if cfg.text_augmentation is not None and task.modality != "text":
        raise ConfigError(f"distill.text_augmentation: {task.name} is an {task.modality} task; word replacement "
                          "is for text (image tasks have augment)")
    if cfg.mixed_precision == "fp16" and not torch.cuda.is_available():
        raise ConfigError("distill.mixed_precision: fp16 needs a GPU; use bf16 on CPU")
    try:
        teacher = teacher if teacher is not None else load(cfg.teacher, task=task)
    except ModelLoadError as exc:
        raise ModelLoadError(f"distill.teacher: {exc}") from None
    if not isinstance(teacher.model, torch.nn.Module):
        raise ConfigError(f"distill.teacher: {cfg.teacher} loads as {teacher.loader}, not a PyTorch model")
    student, student_preprocessor = build_student(cfg.student, teacher.model, task)
    check_labels(teacher.model.config, student.config, task)
    # Teacher and student read the same inputs: the teacher's tokenizer for text students
    # (they share its vocabulary), the student's own image processor where it has one.
    preprocessor = teacher.preprocessor
    if task.modality == "image" and student_preprocessor is not None:
        preprocessor = student_preprocessor

    augment = cfg.augment and task.modality == "image"
    if cfg.offline_teacher and augment:
        raise ConfigError("distill.offline_teacher: precomputed logits do not fit randomly augmented images; "
                          "set augment: false")
    train_data = preprocessed(task, task.train_split, preprocessor, limit=cfg.max_train_samples,
                              mirror=cfg.datasets_mirror, seed=cfg.seed, max_length=cfg.max_length, train=augment)
    augmentation = None
    if cfg.text_augmentation is not None:
        from hfcompress.distill.augment import augment_dataset

        train_data, augmentation = augment_dataset(train_data, preprocessor,
                                                   teacher.model.get_input_embeddings().weight,
                                                   cfg.text_augmentation, seed=cfg.seed)
    collator = DistillCollator(task.collator(preprocessor))
    teacher_logits, offline_seconds = None, None
    if cfg.offline_teacher:
        start = time.perf_counter()
        teacher_logits = precompute_teacher_logits(teacher.model, train_data, collator, cfg.eval_batch_size)
        offline_seconds = time.perf_counter() - start
    dataset = IndexedDataset(train_data, teacher_logits)
    probe = collator([dataset[i] for i in range(min(2, len(dataset)))])
    probe = {k: v for k, v in probe.items() if k not in ("labels", INDEX_KEY, TEACHER_LOGITS_KEY)}
    distiller = build_distiller(cfg.losses, student, teacher.model, temperature=cfg.temperature,
                                regression=task.is_regression, n_train=len(dataset), probe_batch=probe)
    return Prepared(cfg, task, teacher, student, preprocessor, dataset, collator, distiller, offline_seconds,
                    augmentation)


def train_student(p: Prepared, output_dir: Path, callbacks: Optional[list] = None, resume_from: Optional[str] = None):
    """Train the prepared student with the distillation Trainer; returns ``(trainer, train_output)``."""
    from hfcompress.training.train import fit

    cfg = p.cfg
    precision = {"bf16": {"bf16": True}, "fp16": {"fp16": True}}.get(cfg.mixed_precision or "", {})
    # Without a GPU, say so: TrainingArguments then builds a CPU process group (gloo) under
    # torchrun / accelerate launch; otherwise every launched process trains alone (measured).
    if not torch.cuda.is_available():
        precision["use_cpu"] = True
    teacher = None if cfg.offline_teacher else p.teacher.model
    return fit(p.student, p.task, p.preprocessor, cfg, output_dir, p.train_dataset,
               trainer_class=DistillationTrainer, args_class=DistillationTrainingArguments, collator=p.collator,
               callbacks=callbacks, resume_from=resume_from,
               args_overrides=dict(temperature=cfg.temperature, distill_losses=[l.to_dict() for l in cfg.losses],
                                   regression=p.task.is_regression, **precision),
               teacher=teacher, distiller=p.distiller, processing_class=p.preprocessor)


def distill(cfg: DistillConfig, *, model=None, resume: bool = False, overwrite: bool = False,
            callbacks: Optional[list] = None):
    """Distil ``cfg.teacher`` (or the loaded teacher ``model``) into a student; save it to
    ``cfg.output_dir``; return a :class:`~hfcompress.methods.RunResult` (the caller evaluates)."""
    from hfcompress.hub.card import model_card
    from hfcompress.hub.record import CompressionRecord, Stage
    from hfcompress.hub.save import save_compressed
    from hfcompress.methods.contract import RunResult
    from hfcompress.training.train import resolve_checkpoint

    set_threads(cfg.threads)
    set_seed(cfg.seed)
    from hfcompress.hub.save import check_output_dir, folder_of

    output_dir = check_output_dir(cfg.output_dir, inputs=[cfg.teacher, cfg.student.model, folder_of(model)],
                                  overwrite=overwrite, resume=resume)
    checkpoint_dir, last = resolve_checkpoint(output_dir, resume, overwrite)

    p = prepare(cfg, teacher=model)  # every user error surfaces here, before any training
    if overwrite and last is not None and _is_main():
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
    start = time.perf_counter()
    trainer, train_result = train_student(p, checkpoint_dir, callbacks, resume_from=last if resume else None)
    train_seconds = time.perf_counter() - start
    rank, world = trainer.args.process_index, trainer.args.world_size
    print(f"[distill] rank {rank}/{world} finished training: {train_result.global_step} steps, "
          f"loss {train_result.training_loss:.4f}", flush=True)
    student = trainer.accelerator.unwrap_model(trainer.model)
    detach_distiller(student)
    p.distiller.restore_attention(student, p.teacher.model)
    summary: dict[str, Any] = {"train_loss": train_result.training_loss, "global_step": train_result.global_step,
                               "train_seconds": train_seconds, "world_size": world,
                               "offline_precompute_seconds": p.offline_seconds, "saved": False}
    base = CompressionRecord(base_model=cfg.teacher, task=p.task.describe())
    if not trainer.is_world_process_zero():
        return RunResult(output_dir, Stage(method="distill"), summary)

    student = student.cpu().eval()
    p.teacher.model.cpu()
    record = base.with_stage(
        "distill", params=cfg.to_dict(),
        result={"teacher": cfg.teacher,
                "teacher_layers": num_layers(p.teacher.model),
                "student_layers": num_layers(student),
                "student_kind": cfg.student.kind,
                "teacher_layers_kept": selected_layers(cfg.student, p.teacher.model),
                "losses": p.distiller.description,
                "temperature": cfg.temperature,
                "offline_teacher": cfg.offline_teacher,
                "offline_precompute_seconds": p.offline_seconds,
                "text_augmentation": p.augmentation,
                "train_loss": train_result.training_loss, "global_step": train_result.global_step,
                "train_seconds": round(train_seconds, 2), "world_size": world})
    title = f"{output_dir.name} ({p.task.name}, distilled)"
    save_compressed(student, output_dir, record, p.preprocessor, card=model_card(record, p.task, None, title),
                    overwrite=overwrite or resume)
    summary["saved"] = True
    return RunResult(output_dir, record.stages[-1], summary)


def _eval_config(cfg: DistillConfig, model: str) -> EvalConfig:
    return EvalConfig(task=cfg.task, model=model, limit=cfg.max_eval_samples, batch_size=cfg.eval_batch_size,
                      max_length=cfg.max_length, threads=cfg.threads, repeats=cfg.eval_repeats,
                      datasets_mirror=cfg.datasets_mirror)


def evaluations(cfg: DistillConfig) -> list[tuple[str, EvalConfig]]:
    """What the caller evaluates after a distillation: (label, config) for the student and, with
    ``eval_teacher``, the teacher (none without ``eval_at_end``)."""
    if not cfg.eval_at_end:
        return []
    out = [("student", _eval_config(cfg, cfg.output_dir))]
    if cfg.eval_teacher:
        out.insert(0, ("teacher", _eval_config(cfg, cfg.teacher)))
    return out


def _is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0

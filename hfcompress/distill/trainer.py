"""``DistillationTrainer``: a ``transformers.Trainer`` whose loss is a weighted sum of KD terms.

The student is the Trainer's model; the teacher sits beside it, frozen in eval mode and used
under ``torch.no_grad`` (or replaced by logits precomputed once, see :func:`precompute_teacher_logits`).
The loss modules (:class:`~hfcompress.distill.distiller.Distiller`) are attached to the student as
a submodule for the length of training, so that the Trainer's own machinery covers their
learnable projections and CRD memory bank: optimizer, DDP gradient sync, device placement,
mixed precision, checkpoints and resume. :func:`detach_distiller` removes them before the
student is saved.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

import torch
from torch.utils.data import DataLoader, Dataset
from transformers import Trainer, TrainingArguments

from hfcompress.distill.config import LossConfig
from hfcompress.distill.distiller import ATTACH_NAME, Distiller, build_distiller
from hfcompress.distill.losses import DistillStep

INDEX_KEY = "distill_index"
TEACHER_LOGITS_KEY = "teacher_logits"


@dataclasses.dataclass
class DistillationTrainingArguments(TrainingArguments):
    """TrainingArguments plus the distillation loss: its terms (LossConfig dicts) and temperature."""

    temperature: float = dataclasses.field(default=2.0, metadata={"help": "softmax temperature of the logits term"})
    distill_losses: Optional[list] = dataclasses.field(
        default=None, metadata={"help": "loss terms: [{'name': 'logits', 'weight': 1.0}, {'name': 'ce', ...}]"})
    regression: bool = dataclasses.field(default=False, metadata={"help": "regression task (MSE logit matching)"})


class IndexedDataset(Dataset):
    """A dataset whose examples also carry their row index and, optionally, precomputed teacher logits."""

    def __init__(self, base, teacher_logits: Optional[torch.Tensor] = None):
        self.base = base
        self.teacher_logits = teacher_logits

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> dict:
        item = dict(self.base[int(i)])
        item[INDEX_KEY] = int(i)
        if self.teacher_logits is not None:
            item[TEACHER_LOGITS_KEY] = self.teacher_logits[int(i)]
        return item


class DistillCollator:
    """Wraps the task's collator: takes out the distillation keys, batches them separately."""

    def __init__(self, base):
        self.base = base

    def __call__(self, features: list[dict]) -> dict:
        features = [dict(f) for f in features]
        index = [f.pop(INDEX_KEY) for f in features] if INDEX_KEY in features[0] else None
        logits = [f.pop(TEACHER_LOGITS_KEY) for f in features] if TEACHER_LOGITS_KEY in features[0] else None
        batch = dict(self.base(features))
        if index is not None:
            batch[INDEX_KEY] = torch.tensor(index, dtype=torch.long)
        if logits is not None:
            batch[TEACHER_LOGITS_KEY] = torch.stack([torch.as_tensor(l) for l in logits])
        return batch


@torch.no_grad()
def precompute_teacher_logits(teacher: torch.nn.Module, dataset, collator, batch_size: int = 64) -> torch.Tensor:
    """Teacher logits for every row of ``dataset`` (offline KD): one teacher pass instead of one per epoch.

    Only valid when the student sees exactly these inputs every epoch (no random augmentation).
    """
    teacher.eval()
    device = next(teacher.parameters()).device
    out = []
    for batch in DataLoader(dataset, batch_size=batch_size, collate_fn=collator):
        batch = {k: v.to(device) for k, v in batch.items() if k not in ("labels", INDEX_KEY, TEACHER_LOGITS_KEY)}
        out.append(teacher(**batch).logits.float().cpu())
    return torch.cat(out)


def attach_distiller(student: torch.nn.Module, distiller: Distiller) -> None:
    student.add_module(ATTACH_NAME, distiller)


def detach_distiller(student: torch.nn.Module) -> Optional[Distiller]:
    distiller = getattr(student, ATTACH_NAME, None)
    if distiller is not None:
        distiller.detach_hooks()
        delattr(student, ATTACH_NAME)
    return distiller


class DistillationTrainer(Trainer):
    """Trainer with a teacher. Pass ``distiller`` (built by ``build_distiller``) or let the trainer
    build one from ``args.distill_losses`` with a probe batch from the training set.

    ``teacher`` may be None when every training example carries precomputed teacher logits.
    """

    def __init__(self, model=None, args: Optional[TrainingArguments] = None, teacher: Optional[torch.nn.Module] = None,
                 distiller: Optional[Distiller] = None, **kwargs):
        if teacher is not None:
            teacher.eval()
            for p in teacher.parameters():
                p.requires_grad_(False)
        if distiller is None:
            distiller = self._distiller_from_args(model, teacher, args, kwargs)
        attach_distiller(model, distiller)
        distiller.attach_hooks(model, teacher)
        super().__init__(model=model, args=args, **kwargs)
        self.teacher = teacher.to(self.args.device) if teacher is not None else None
        self.distiller = distiller
        # The loss is a per-batch mean: let the Trainer divide it by the accumulation steps
        # (transformers 4.57 and 5.x both key that off this flag).
        self.model_accepts_loss_kwargs = False
        self._term_sums: dict[str, float] = {}
        self._term_count = 0
        self._run_sums: dict[str, float] = {}  # over every training step, for term_means()
        self._run_count = 0

    @staticmethod
    def _distiller_from_args(model, teacher, args, kwargs) -> Distiller:
        losses = getattr(args, "distill_losses", None) or [{"name": "logits"}, {"name": "ce", "weight": 0.5}]
        losses = [LossConfig.from_dict(l, where=f"distill_losses[{i}]") if isinstance(l, dict) else l
                  for i, l in enumerate(losses)]
        data, collator = kwargs.get("train_dataset"), kwargs.get("data_collator")
        probe = collator([data[i] for i in range(min(2, len(data)))])
        probe = {k: v for k, v in probe.items() if k not in ("labels", INDEX_KEY, TEACHER_LOGITS_KEY)}
        return build_distiller(losses, model, teacher, temperature=getattr(args, "temperature", 2.0),
                               regression=getattr(args, "regression", False), n_train=len(data), probe_batch=probe)

    def compute_loss(self, model, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: Optional[int] = None):
        inputs = dict(inputs)
        indices = inputs.pop(INDEX_KEY, None)
        teacher_logits = inputs.pop(TEACHER_LOGITS_KEY, None)
        labels = inputs.get("labels")
        if not model.training:  # evaluation inside the Trainer: the student's own supervised loss
            outputs = model(**inputs)
            self.distiller.clear()
            return (outputs.loss, outputs) if return_outputs else outputs.loss
        features = {k: v for k, v in inputs.items() if k != "labels"}
        extra = {"output_attentions": True} if self.distiller.needs_attentions else {}
        outputs = model(**features, **extra)
        teacher_out = None
        needs_teacher = self.distiller.needs_teacher_logits or self.distiller.needs_teacher_features
        if needs_teacher and (teacher_logits is None or self.distiller.needs_teacher_features):
            if self.teacher is None:
                raise RuntimeError("no teacher model and no precomputed teacher logits in the batch")
            with torch.no_grad():
                teacher_out = self.teacher(**features, **extra)
            teacher_logits = teacher_out.logits
        step = DistillStep(student_logits=outputs.logits, labels=labels,
                           teacher_logits=teacher_logits.detach() if teacher_logits is not None else None,
                           student_attentions=getattr(outputs, "attentions", None),
                           teacher_attentions=getattr(teacher_out, "attentions", None), indices=indices,
                           attention_mask=inputs.get("attention_mask"))
        loss, values = self.distiller(step)
        self.distiller.clear()
        for k, v in values.items():
            self._term_sums[k] = self._term_sums.get(k, 0.0) + v
            self._run_sums[k] = self._run_sums.get(k, 0.0) + v
        self._term_count += 1
        self._run_count += 1
        return (loss, outputs) if return_outputs else loss

    def term_means(self) -> dict[str, float]:
        """Each loss term's mean (unweighted) over every training step this trainer has run."""
        return {k: v / self._run_count for k, v in self._run_sums.items()} if self._run_count else {}

    def log(self, logs: dict[str, float], *args, **kwargs) -> None:
        """Add each term's mean since the last log line (``loss_logits``, ``loss_hidden`` ...), and
        to the summary line at the end of training (``train_loss``) each term's mean over the run
        (``train_loss_logits`` ...)."""
        if self._term_count and "loss" in logs:
            logs.update({f"loss_{k}": round(v / self._term_count, 6) for k, v in self._term_sums.items()})
            self._term_sums, self._term_count = {}, 0
        if "train_loss" in logs:
            logs.update({f"train_loss_{k}": round(v, 6) for k, v in self.term_means().items()})
        super().log(logs, *args, **kwargs)

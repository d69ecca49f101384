"""The Task abstraction: everything task-specific, shared by training, compression and evaluation.

A Task knows its dataset (Hub id, config, splits, columns), how to turn raw rows into model
inputs (tokenizer or image processor), how to batch them (collator), which model head it needs
(``model_class``) and how to score predictions (``compute_metrics``, with the official metric).
Text and image tasks differ only in ``preprocess``/``collator``; every caller treats them alike.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Callable, Optional

import numpy as np

from hfcompress.errors import TaskError
from hfcompress.tasks.data import load_split
from hfcompress.tasks.metrics import MAIN_METRIC, load_metric

if TYPE_CHECKING:  # imported where used: ``import hfcompress.tasks`` stays cheap
    import datasets
    import torch


@dataclasses.dataclass(frozen=True)
class Task:
    name: str
    hub_id: str
    hub_config: Optional[str]
    label_names: tuple[str, ...]  # empty for regression
    metric: str  # a kind from hfcompress.tasks.metrics.METRIC_KINDS
    train_split: str = "train"
    eval_splits: tuple[str, ...] = ("validation",)
    label_column: str = "label"
    modality = "base"

    # -- shape of the head -------------------------------------------------------------
    @property
    def is_regression(self) -> bool:
        return not self.label_names

    @property
    def num_labels(self) -> int:
        return 1 if self.is_regression else len(self.label_names)

    @property
    def main_metric(self) -> str:
        return MAIN_METRIC[self.metric]

    def describe(self) -> Any:
        """What a record stores to find this task again: a built-in task's name (a string).

        Custom tasks (:mod:`hfcompress.tasks.custom`) return their resolved :class:`TaskSpec` as a
        dict instead; :func:`hfcompress.tasks.task_from_record` rebuilds a Task from either.
        """
        return self.name

    @property
    def model_class(self):  # pragma: no cover - overridden
        raise NotImplementedError

    def label_maps(self) -> dict[str, Any]:
        """Keyword arguments for a model config: num_labels, id2label, label2id, problem_type."""
        if self.is_regression:
            return {"num_labels": 1, "problem_type": "regression"}
        return {
            "num_labels": self.num_labels,
            "id2label": dict(enumerate(self.label_names)),
            "label2id": {n: i for i, n in enumerate(self.label_names)},
            "problem_type": "single_label_classification",
        }

    # -- data ----------------------------------------------------------------------------
    @property
    def splits(self) -> tuple[str, ...]:
        return (self.train_split, *self.eval_splits)

    def load(self, split: str, limit: Optional[int] = None, mirror: Optional[str] = None,
             shuffle_seed: Optional[int] = 0) -> datasets.Dataset:
        """Rows of one split; ``limit`` keeps a seeded random sample of N rows.

        A sample rather than the first N rows: mirror files may be sorted by label (CIFAR-10's
        test split is), and the first N rows would then be one class.
        """
        if split not in self.splits:
            raise TaskError(f"task {self.name!r} has no split {split!r}; splits: {', '.join(self.splits)}")
        ds = self._load_raw(split, mirror)
        missing = [c for c in self.required_columns() if c not in ds.column_names]
        if missing:
            raise TaskError(f"{self.hub_id} ({self.hub_config}) split {split!r} lacks column(s) "
                            f"{missing}; found {ds.column_names}")
        if limit is not None and limit < len(ds):
            ds = ds.shuffle(seed=shuffle_seed or 0).select(range(limit))
        return ds

    def _load_raw(self, split: str, mirror: Optional[str]) -> datasets.Dataset:
        """All rows of one split (built-in tasks: the Hub dataset, through the mirror)."""
        return load_split(self.hub_id, self.hub_config, split, mirror)

    def required_columns(self) -> list[str]:
        return [self.label_column]

    def check_holdout(self) -> None:
        """Raise if training would evaluate on its own rows (only custom tasks with one split can)."""

    def check_model_labels(self, config) -> None:
        """Raise TaskError if a model's classifier does not fit this task's label count."""
        n = getattr(config, "num_labels", None)
        if n != self.num_labels:
            raise TaskError(f"model has {n} output label(s) but task {self.name!r} needs {self.num_labels}"
                            f" ({', '.join(self.label_names) or 'regression'})")

    # -- model inputs (per modality) -----------------------------------------------------
    def load_preprocessor(self, model_dir: str):  # pragma: no cover - overridden
        raise NotImplementedError

    def preprocess(self, ds: datasets.Dataset, preprocessor, max_length: int = 128,
                   train: bool = False) -> datasets.Dataset:  # pragma: no cover - overridden
        raise NotImplementedError

    def collator(self, preprocessor) -> Callable:  # pragma: no cover - overridden
        raise NotImplementedError

    # -- scoring -------------------------------------------------------------------------
    def predictions(self, logits: np.ndarray) -> np.ndarray:
        logits = np.asarray(logits)
        if self.is_regression:
            return logits.reshape(-1).astype(np.float32)
        return logits.argmax(-1)

    def compute_metrics(self, eval_pred) -> dict[str, float]:
        """``Trainer``-compatible: takes (logits, labels), returns the official metric(s)."""
        logits, labels = eval_pred[0], eval_pred[1]
        if isinstance(logits, (tuple, list)):
            logits = logits[0]
        preds = self.predictions(logits)
        return load_metric(self.metric).compute(predictions=preds, references=np.asarray(labels))


def stack_collator(features: list[dict[str, Any]]) -> "dict[str, torch.Tensor]":
    """Batch already-equal-shaped examples (images) into tensors."""
    import torch

    batch = {}
    for key in features[0]:
        values = [f[key] for f in features]
        batch[key] = torch.stack(values) if isinstance(values[0], torch.Tensor) else torch.tensor(values)
    return batch

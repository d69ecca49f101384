"""The one way from a task's split to model inputs: load (seeded sample) -> preprocess -> batches.

Every place that needs task data (importance scores, calibration, recovery and QAT fine-tunes,
vocabulary pruning) goes through these two functions instead of re-writing the chain.
"""

from __future__ import annotations

from typing import Iterator, Optional

import torch
from torch.utils.data import DataLoader


def preprocessed(task, split: str, preprocessor, *, limit: Optional[int] = None, mirror: Optional[str] = None,
                 seed: Optional[int] = 0, max_length: int = 128, train: bool = False):
    """The split's rows (a seeded sample of ``limit``), preprocessed for the model (a ``datasets.Dataset``)."""
    raw = task.load(split, limit=limit, mirror=mirror, shuffle_seed=seed)
    return task.preprocess(raw, preprocessor, max_length, train=train)


def batches(task, split: str, preprocessor, *, batch_size: int = 32, limit: Optional[int] = None,
            mirror: Optional[str] = None, seed: Optional[int] = 0, max_length: int = 128,
            labels: bool = True) -> Iterator[dict[str, torch.Tensor]]:
    """Collated batches of the split (padded per batch); ``labels=False`` drops the labels (calibration)."""
    data = preprocessed(task, split, preprocessor, limit=limit, mirror=mirror, seed=seed, max_length=max_length)
    yield from collated(task, data, preprocessor, batch_size=batch_size, labels=labels)


def collated(task, data, preprocessor, *, batch_size: int = 32, labels: bool = True) -> Iterator[dict[str, torch.Tensor]]:
    """Batches of already preprocessed rows (``data``, in its order), each padded to its own longest row."""
    for batch in DataLoader(data, batch_size=batch_size, collate_fn=task.collator(preprocessor)):
        if not labels:
            batch.pop("labels", None)
        yield batch

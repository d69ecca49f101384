"""Recipes: YAML files whose top-level sections are typed configs.

A recipe names what to do (``train``, ``evaluate``; later issues add ``distill``, ``prune``,
``quantize`` and ``stages``). ``load_recipe`` validates the whole file before anything runs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional

import yaml

from hfcompress.config.base import Config
from hfcompress.errors import ConfigError


def _positive(where: str, **values: float | int | None) -> None:
    for name, value in values.items():
        if value is not None and value <= 0:
            raise ConfigError(f"{where}.{name}: must be > 0, got {value!r}")


@dataclasses.dataclass
class TrainConfig(Config):
    """Fine-tuning with a plain ``transformers.Trainer`` (text or image task)."""

    task: str
    model: str
    output_dir: str
    epochs: float = 3.0
    learning_rate: float = 5e-5
    batch_size: int = 32
    eval_batch_size: int = 64
    gradient_accumulation_steps: int = 1
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    max_length: int = 128
    max_train_samples: Optional[int] = None
    max_eval_samples: Optional[int] = None
    seed: int = 42
    save_steps: int = 500
    save_total_limit: int = 2
    logging_steps: int = 50
    eval_at_end: bool = True
    augment: bool = True
    reinit_head: bool = False
    threads: Optional[int] = None
    datasets_mirror: Optional[str] = None

    def validate(self, where: str) -> None:
        _positive(
            where,
            epochs=self.epochs,
            learning_rate=self.learning_rate,
            batch_size=self.batch_size,
            eval_batch_size=self.eval_batch_size,
            gradient_accumulation_steps=self.gradient_accumulation_steps,
            max_length=self.max_length,
            max_train_samples=self.max_train_samples,
            max_eval_samples=self.max_eval_samples,
            save_steps=self.save_steps,
            logging_steps=self.logging_steps,
            threads=self.threads,
        )
        if not 0 <= self.warmup_ratio < 1:
            raise ConfigError(f"{where}.warmup_ratio: must be in [0, 1), got {self.warmup_ratio}")


@dataclasses.dataclass
class EvalConfig(Config):
    """One evaluation: task quality plus efficiency, measured in the same run."""

    task: str
    model: str
    split: Optional[str] = None
    limit: Optional[int] = None
    batch_size: int = 32
    max_length: int = 128
    threads: Optional[int] = None
    warmup: int = 3
    repeats: int = 20
    json: Optional[str] = None
    datasets_mirror: Optional[str] = None

    def validate(self, where: str) -> None:
        _positive(where, limit=self.limit, batch_size=self.batch_size, max_length=self.max_length,
                  threads=self.threads, repeats=self.repeats)
        if self.warmup < 0:
            raise ConfigError(f"{where}.warmup: must be >= 0, got {self.warmup}")


@dataclasses.dataclass
class Recipe(Config):
    """A whole recipe file. Every section is optional; unknown sections are errors."""

    name: Optional[str] = None
    description: Optional[str] = None
    train: Optional[TrainConfig] = None
    evaluate: Optional[EvalConfig] = None


def load_recipe(path: str | Path) -> Recipe:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"recipe file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"{path}: not valid YAML ({first})") from None
    if data is None:
        raise ConfigError(f"{path}: the recipe is empty")
    return Recipe.from_dict(data, where=f"recipe {path.name}")

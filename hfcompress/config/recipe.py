"""Recipes: YAML files whose top-level sections are typed configs.

A recipe names what to do (``train``, ``evaluate``; later issues add ``distill``, ``prune``,
``quantize`` and ``stages``). ``load_recipe`` validates the whole file before anything runs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional, Union

import yaml

from hfcompress.config.base import Config
from hfcompress.errors import ConfigError
from hfcompress.tasks.spec import TaskSpec


# Upper bounds for budgets: a value beyond them is a typo (epochs: 1e9), not a plan.
MAX_EPOCHS = 1000
MAX_BATCH_OR_LENGTH = 1 << 20


def check_positive(where: str, **values: float | int | None) -> None:
    for name, value in values.items():
        if value is not None and value <= 0:
            raise ConfigError(f"{where}.{name}: must be > 0, got {value!r}")


@dataclasses.dataclass(kw_only=True)
class TrainingConfig(Config):
    """The knobs of every Trainer-based run (fine-tuning, distillation), with their validation.

    Keyword-only so that subclasses can put their required fields (task, model ...) first.
    :func:`hfcompress.training.train.training_arguments` reads these fields for any subclass.
    """

    epochs: float = 3.0  # passes over the training data (fractions allowed)
    learning_rate: float = 5e-5  # peak learning rate (AdamW, linear decay after warm-up)
    batch_size: int = 32  # training examples per step (per process)
    eval_batch_size: int = 64  # examples per evaluation / teacher-inference batch
    gradient_accumulation_steps: int = 1  # steps whose gradients add up before each optimizer step
    weight_decay: float = 0.01  # AdamW weight decay
    warmup_ratio: float = 0.06  # fraction of the steps with a linearly rising learning rate
    max_length: int = 128  # tokens per text example (longer ones are truncated)
    max_train_samples: Optional[int] = None  # train on a seeded sample of N examples (default: the whole split)
    max_eval_samples: Optional[int] = None  # evaluate on a seeded sample of N examples (default: the whole split)
    seed: int = 42  # seed of data order, sampling and initialisation
    save_steps: int = 500  # write a checkpoint every N steps (resume with --resume)
    save_total_limit: int = 2  # checkpoints kept
    logging_steps: int = 50  # log the loss every N steps
    eval_at_end: bool = True  # evaluate after training
    augment: bool = True  # image tasks: random pad-crop and flip while training
    threads: Optional[int] = None  # intra-op CPU threads (default: torch's choice)
    datasets_mirror: Optional[str] = None  # local mirror root of Hub datasets (default: $HFCOMPRESS_DATASETS_MIRROR)

    def validate(self, where: str) -> None:
        check_positive(
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
        if self.epochs > MAX_EPOCHS:
            raise ConfigError(f"{where}.epochs: must be at most {MAX_EPOCHS} (a budget this large is almost "
                              f"certainly a typo), got {self.epochs:g}")
        for name in ("batch_size", "eval_batch_size", "gradient_accumulation_steps", "max_length"):
            if getattr(self, name) > MAX_BATCH_OR_LENGTH:
                raise ConfigError(f"{where}.{name}: must be at most {MAX_BATCH_OR_LENGTH}, got {getattr(self, name)}")
        # subclasses name their inputs model (train), teacher and student.model (distill)
        output_dir = getattr(self, "output_dir", None)
        inputs = [getattr(self, "model", None), getattr(self, "teacher", None),
                  getattr(getattr(self, "student", None), "model", None)]
        if isinstance(output_dir, str):
            from hfcompress.config.paths import refuse_output_file, refuse_output_over_input

            refuse_output_over_input(output_dir, [i for i in inputs if isinstance(i, str)], where=f"{where}.output_dir")
            refuse_output_file(output_dir, where=f"{where}.output_dir")


@dataclasses.dataclass
class TrainConfig(TrainingConfig):
    """Fine-tuning with a plain ``transformers.Trainer`` (text or image task)."""

    task: Union[str, TaskSpec]  # a built-in task name, or your data: {dataset: ..., text_columns: [...], ...}
    model: str  # a model folder, Hub id, or scratch:<architecture>
    output_dir: str  # where the model is saved (checkpoints under OUTPUT_DIR/checkpoints)
    reinit_head: bool = False  # replace a classifier head whose labels do not fit the task


@dataclasses.dataclass
class EvalConfig(Config):
    """One evaluation: task quality plus efficiency, measured in the same run."""

    model: str  # a model folder or Hub id
    # a built-in task name, or your data ({dataset: ...}); default: the task in the model's record
    task: Optional[Union[str, TaskSpec]] = None
    split: Optional[str] = None  # evaluation split (default: the task's evaluation split(s))
    limit: Optional[int] = None  # evaluate a fixed seeded sample of N examples
    batch_size: int = 32  # examples per batch (and the batch timed for latency)
    max_length: int = 128  # tokens per text example
    threads: Optional[int] = None  # intra-op CPU threads for inference and timing
    warmup: int = 3  # untimed batches before timing
    repeats: int = 20  # timed batches
    json: Optional[str] = None  # write the evaluation record to this file
    datasets_mirror: Optional[str] = None  # local mirror root of Hub datasets (default: $HFCOMPRESS_DATASETS_MIRROR)
    corruption: Optional[str] = None  # e.g. "gaussian_noise:3" or "char_noise:2" (robustness)

    def validate(self, where: str) -> None:
        check_positive(where, limit=self.limit, batch_size=self.batch_size, max_length=self.max_length,
                  threads=self.threads, repeats=self.repeats)
        if self.warmup < 0:
            raise ConfigError(f"{where}.warmup: must be >= 0, got {self.warmup}")


# Recipe sections: every method family of the registry, plus evaluate and pipeline. Each concern owns
# its config class; it is imported only when a recipe uses that section.
def _sections() -> dict[str, str]:
    from hfcompress.methods.registry import FAMILIES

    return {**{name: f.config for name, f in FAMILIES.items()},
            "evaluate": "hfcompress.config.recipe:EvalConfig",
            "pipeline": "hfcompress.pipeline.run:PipelineConfig", "compress": "hfcompress.search.config:CompressConfig"}


SECTIONS: dict[str, str] = _sections()
META_KEYS = ("name", "description")


def section_class(name: str) -> type[Config]:
    import importlib

    module, _, cls = SECTIONS[name].partition(":")
    try:
        return getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError):
        raise ConfigError(f"recipe section {name!r} is not available in this installation ({SECTIONS[name]})") from None


@dataclasses.dataclass
class Recipe:
    """A whole recipe file: optional name/description plus typed sections (see SECTIONS)."""

    name: Optional[str] = None
    description: Optional[str] = None
    sections: dict[str, Config] = dataclasses.field(default_factory=dict)

    def __getattr__(self, item: str):
        if item in SECTIONS:
            return self.__dict__.get("sections", {}).get(item)
        raise AttributeError(item)

    @classmethod
    def from_dict(cls, data, where: str = "recipe") -> "Recipe":
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: expected a mapping of sections, got {data!r}")
        known = [*META_KEYS, *SECTIONS]
        unknown = sorted(k for k in data if k not in known)
        if unknown:
            raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known keys: {', '.join(known)})")
        for key in META_KEYS:
            if data.get(key) is not None and not isinstance(data[key], str):
                raise ConfigError(f"{where}.{key}: expected a string, got {data[key]!r}")
        sections = {name: section_class(name).from_dict(data[name], where=f"{where}.{name}")
                    for name in SECTIONS if name in data}
        return cls(name=data.get("name"), description=data.get("description"), sections=sections)

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in META_KEYS if getattr(self, k) is not None}
        out.update({name: cfg.to_dict() for name, cfg in self.sections.items()})
        return out


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

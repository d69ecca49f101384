"""A task described by its data: :class:`TaskSpec`, the typed config behind ``--dataset``.

Wherever a task name goes (``--task sst2``, ``task: sst2`` in a recipe), a task can instead be
given by its dataset::

    hfcompress evaluate --model M --dataset dair-ai/emotion --text-column text --split test
    task: {dataset: data/tickets.csv, text_columns: [subject, body], label_column: queue,
           validation_split: 0.1, metric: f1_macro}

This module only describes and validates (it imports neither ``datasets`` nor ``torch``, so
configs can use it cheaply); :mod:`hfcompress.tasks.custom` reads the data and builds the Task.

Fields left out are inferred from the data when the task is built (kind, text and image
columns, splits, label names, metric); the built task stores the resolved spec in every record
(:meth:`Task.describe`), so the same task is found again without the flags.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Literal, Optional

from hfcompress.config.base import Config
from hfcompress.errors import ConfigError

KINDS = ("text-classification", "text-pair-classification", "regression", "image-classification")
Kind = Literal["text-classification", "text-pair-classification", "regression", "image-classification"]

# metric names (same table as hfcompress.tasks.metrics.METRIC_NAMES, kept here so that
# validating a spec imports nothing heavy) and the kinds each one fits
CLASSIFICATION_METRICS = ("accuracy", "f1", "f1_binary", "f1_macro", "f1_micro", "matthews_correlation", "mcc")
REGRESSION_METRICS = ("pearson", "pearson_spearman", "spearman", "spearmanr")
DEFAULT_METRIC = {"text-classification": "accuracy", "text-pair-classification": "accuracy",
                  "image-classification": "accuracy", "regression": "pearson"}


@dataclasses.dataclass
class TaskSpec(Config):
    """A task given by its data instead of a built-in name.

    - ``dataset``: a Hub dataset id (through ``HFCOMPRESS_DATASETS_MIRROR`` when set, as the
      built-in tasks), a local CSV / TSV / JSON / JSON Lines / Parquet file, a folder of such
      files (splits named by file: ``train.csv``, ``validation.csv``, ``test.csv``), or an image
      folder (one sub-folder per class, optionally under ``train/``, ``validation/``, ``test/``).
    - ``config`` / ``revision``: of a Hub dataset (the mirror is a snapshot: no revisions).
    - ``kind``: inferred when omitted (image column -> image-classification; float label ->
      regression; two text columns -> text-pair-classification; else text-classification).
    - ``text_columns`` (one, or two for a pair), ``label_column`` (default ``label``),
      ``image_column``: inferred when omitted.
    - ``train_split`` / ``eval_splits``: default to the data's own train and validation/test
      splits; ``validation_split``: hold out this fraction of the train split instead (seeded
      with ``split_seed``, stratified by label for classification; the same every run).
    - ``metric``: accuracy, f1 (binary), f1_macro, f1_micro, matthews_correlation, pearson,
      spearman; default accuracy (classification) or pearson (regression).
    - ``label_names``: pin the label order (default: the ``ClassLabel`` names of the data, else
      its sorted distinct label values).
    - ``on_bad_image``: what to do with an image that does not decode (each is decoded once, when
      its split is first loaded): ``fail`` (default) stops, naming the file, so that a model is
      never scored on fewer images than the data has without saying so; ``skip`` drops such
      images and warns with their count.
    - ``name``: the task's name in reports (default: the dataset, plus ``:config``).
    """

    dataset: str
    config: Optional[str] = None
    revision: Optional[str] = None
    name: Optional[str] = None
    kind: Optional[Kind] = None
    text_columns: Optional[list[str]] = None
    label_column: Optional[str] = None
    image_column: Optional[str] = None
    train_split: Optional[str] = None
    eval_splits: Optional[list[str]] = None
    validation_split: Optional[float] = None
    split_seed: int = 0
    metric: Optional[str] = None
    label_names: Optional[list[str]] = None
    on_bad_image: Literal["skip", "fail"] = "fail"

    def validate(self, where: str) -> None:
        if not self.dataset or not self.dataset.strip():
            raise ConfigError(f"{where}.dataset: must not be empty")
        for field in ("config", "revision", "name", "label_column", "image_column", "train_split"):
            value = getattr(self, field)
            if value is not None and not value.strip():
                raise ConfigError(f"{where}.{field}: must not be empty")
        if self.text_columns is not None:
            cols = self.text_columns
            if not 1 <= len(cols) <= 2:
                raise ConfigError(f"{where}.text_columns: give one text column, or two for a text pair; got {cols}")
            if any(not c.strip() for c in cols) or len(set(cols)) != len(cols):
                raise ConfigError(f"{where}.text_columns: expected distinct, non-empty column names, got {cols}")
            if self.kind == "text-classification" and len(cols) != 1:
                raise ConfigError(f"{where}.text_columns: kind text-classification takes one text column, got {cols} "
                                  "(two columns make a text-pair-classification)")
            if self.kind == "text-pair-classification" and len(cols) != 2:
                raise ConfigError(f"{where}.text_columns: kind text-pair-classification takes two text columns, "
                                  f"got {cols}")
            if self.kind == "image-classification":
                raise ConfigError(f"{where}.text_columns: an image-classification task has no text columns")
            if self.label_column in cols:
                raise ConfigError(f"{where}.label_column: {self.label_column!r} is also a text column")
        if self.image_column is not None and self.kind not in (None, "image-classification"):
            raise ConfigError(f"{where}.image_column: only for kind image-classification, not {self.kind}")
        if self.eval_splits is not None:
            if not self.eval_splits or any(not s.strip() for s in self.eval_splits):
                raise ConfigError(f"{where}.eval_splits: expected one or more split names, got {self.eval_splits}")
            if len(set(self.eval_splits)) != len(self.eval_splits):
                raise ConfigError(f"{where}.eval_splits: a split is listed twice: {self.eval_splits}")
        if self.validation_split is not None and not 0 < self.validation_split < 1:
            raise ConfigError(f"{where}.validation_split: a fraction in (0, 1) of the train split, "
                              f"got {self.validation_split}")
        if self.metric is not None:
            name = self.metric.lower()
            if name not in CLASSIFICATION_METRICS + REGRESSION_METRICS:
                raise ConfigError(f"{where}.metric: unknown metric {self.metric!r}; known metrics: "
                                  f"{', '.join(sorted(CLASSIFICATION_METRICS + REGRESSION_METRICS))}")
            if self.kind == "regression" and name not in REGRESSION_METRICS:
                raise ConfigError(f"{where}.metric: {self.metric!r} is a classification metric; regression takes "
                                  f"{', '.join(REGRESSION_METRICS)}")
            if self.kind not in (None, "regression") and name in REGRESSION_METRICS:
                raise ConfigError(f"{where}.metric: {self.metric!r} is a regression metric; {self.kind} takes "
                                  f"{', '.join(CLASSIFICATION_METRICS)}")
        if self.label_names is not None:
            if self.kind == "regression":
                raise ConfigError(f"{where}.label_names: a regression task has no label names")
            if len(self.label_names) < 2 or len(set(self.label_names)) != len(self.label_names):
                raise ConfigError(f"{where}.label_names: expected two or more distinct names, got {self.label_names}")

    # -- construction from command-line flags -------------------------------------------
    @classmethod
    def from_flags(cls, **flags: Any) -> "TaskSpec":
        """See :func:`task_spec_from_flags`."""
        return task_spec_from_flags(**flags)

    def display_name(self) -> str:
        return self.name or (f"{self.dataset}:{self.config}" if self.config else self.dataset)


def _split_list(value: Any) -> Optional[list[str]]:
    """``"a,b"`` or ``["a", "b"]`` -> ``["a", "b"]``; None stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        return [v.strip() for v in value.split(",")]
    return list(value)


# flag name (without --) for each TaskSpec field, for error messages
_FLAG = {"dataset": "dataset", "config": "dataset-config", "revision": "dataset-revision", "name": "task-name",
         "kind": "kind", "text_columns": "text-columns", "label_column": "label-column",
         "image_column": "image-column", "train_split": "train-split", "eval_splits": "split",
         "validation_split": "validation-split", "split_seed": "split-seed", "metric": "metric",
         "label_names": "label-names", "on_bad_image": "on-bad-image"}


def task_spec_from_flags(
    dataset: str,
    config: Optional[str] = None,
    revision: Optional[str] = None,
    text_columns: Optional[str | list[str]] = None,
    text_column: Optional[str] = None,
    label_column: Optional[str] = None,
    image_column: Optional[str] = None,
    split: Optional[str | list[str]] = None,
    train_split: Optional[str] = None,
    validation_split: Optional[float] = None,
    split_seed: Optional[int] = None,
    kind: Optional[str] = None,
    metric: Optional[str] = None,
    label_names: Optional[str | list[str]] = None,
    on_bad_image: Optional[str] = None,
    name: Optional[str] = None,
) -> TaskSpec:
    """A :class:`TaskSpec` from command-line flag values (comma lists as strings); errors name the flag.

    ``text_column`` is the one-column spelling of ``text_columns`` (``--text-column text``);
    ``split`` is the evaluation split(s) (``--split test``, or ``validation,test``).
    """
    if text_column is not None and text_columns is not None:
        raise ConfigError("--text-column and --text-columns: give one of them")
    data = {"dataset": dataset, "config": config, "revision": revision, "name": name, "kind": kind,
            "text_columns": _split_list(text_columns if text_columns is not None else text_column),
            "label_column": label_column, "image_column": image_column, "train_split": train_split,
            "eval_splits": _split_list(split), "validation_split": validation_split, "split_seed": split_seed,
            "metric": metric, "label_names": _split_list(label_names), "on_bad_image": on_bad_image}
    data = {k: v for k, v in data.items() if v is not None}
    try:
        return TaskSpec.from_dict(data, where="task")
    except ConfigError as exc:
        message = re.sub(r"^task\.(\w+)", lambda m: "--" + _FLAG.get(m.group(1), m.group(1)), str(exc))
        raise ConfigError(message) from None


def task_from_flags(task: Optional[str] = None, dataset: Optional[str] = None, **dataset_flags: Any
                    ) -> Optional[str | dict[str, Any]]:
    """The value for a config's ``task`` field from the CLI: ``--task NAME`` or ``--dataset ...``.

    Returns the built-in name (a string), a TaskSpec as a dict, or None when neither was given
    (``evaluate`` then takes the task from the model's record). Dataset flags (``--text-columns``
    ...) without ``--dataset`` are an error, as is giving both ``--task`` and ``--dataset``.
    """
    given = sorted(k for k, v in dataset_flags.items() if v is not None)
    if task is not None and dataset is not None:
        raise ConfigError("--task and --dataset: give one of them (a built-in task name, or a task's data)")
    if dataset is None:
        if given:
            raise ConfigError(f"--{given[0].replace('_', '-')}: describes a --dataset; give --dataset too")
        return task
    return task_spec_from_flags(dataset=dataset, **dataset_flags).to_dict()


def task_key(value: Any) -> str:
    """A short, stable string for a record's ``task`` (a built-in name, or a TaskSpec dict), e.g. to group by."""
    if value is None or isinstance(value, str):
        return value  # type: ignore[return-value]
    if isinstance(value, dict) and value.get("dataset"):
        return value.get("name") or (f"{value['dataset']}:{value['config']}" if value.get("config")
                                     else value["dataset"])
    return str(value)


# -- argparse ---------------------------------------------------------------------------------
# (flag, keyword of task_spec_from_flags, type, help): for a parser built by hand or generated
TASK_FLAGS: tuple[tuple[str, str, Any, str], ...] = (
    ("--dataset", "dataset", str, "a task given by its data instead of --task: a Hub dataset id, a CSV / TSV / "
                                  "JSON / JSON Lines / Parquet file, a folder of such files, or an image folder "
                                  "(one sub-folder per class)"),
    ("--dataset-config", "config", str, "config of a Hub dataset"),
    ("--dataset-revision", "revision", str, "revision of a Hub dataset (the mirror has one version)"),
    ("--kind", "kind", str, f"{' | '.join(KINDS)} (default: inferred from the data)"),
    ("--text-column", "text_column", str, "the text column (default: inferred)"),
    ("--text-columns", "text_columns", str, "two text columns of a text pair, comma-separated (a,b)"),
    ("--label-column", "label_column", str, "the label column (default: label)"),
    ("--image-column", "image_column", str, "the image column (default: inferred)"),
    ("--train-split", "train_split", str, "the split to train on (default: train)"),
    ("--eval-splits", "split", str, "split(s) to evaluate on, comma-separated (default: the data's validation/test)"),
    ("--validation-split", "validation_split", float, "hold out this fraction of the train split for evaluation "
                                                      "(seeded, stratified by label)"),
    ("--split-seed", "split_seed", int, "seed of --validation-split (default: 0)"),
    ("--metric", "metric", str, "accuracy, f1 (binary), f1_macro, f1_micro, matthews_correlation, pearson, spearman "
                                "(default: accuracy; pearson for regression)"),
    ("--label-names", "label_names", str, "the label names in the model's order, comma-separated"),
    ("--on-bad-image", "on_bad_image", str, "fail (default) or skip images that do not decode"),
    ("--task-name", "name", str, "the task's name in records and reports (default: the dataset)"),
)


def add_task_flags(parser) -> None:
    """Add :data:`TASK_FLAGS` to an ``argparse`` parser (dest: ``task_<keyword>``); read back with :func:`task_from_args`."""
    for flag, key, type_, help_ in TASK_FLAGS:
        parser.add_argument(flag, dest=f"task_{key}", type=type_, default=None, help=help_)


def task_from_args(args, task_attr: str = "task") -> Optional[str | dict[str, Any]]:
    """``--task`` or the dataset flags of an ``argparse`` namespace -> the value of a config's ``task`` field."""
    flags = {key: getattr(args, f"task_{key}", None) for _, key, _, _ in TASK_FLAGS}
    return task_from_flags(task=getattr(args, task_attr, None), **flags)

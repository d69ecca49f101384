"""Tasks built from a :class:`~hfcompress.tasks.spec.TaskSpec`: the user's own data.

:func:`build_task` reads every split once, through ``datasets``' own builders (``csv``,
``json``, ``parquet``, ``imagefolder``, or the Hub / mirror logic of :mod:`hfcompress.tasks.data`),
checks it (columns, labels, images) and returns a Task that every caller uses like a built-in
one: a :class:`CustomTextTask` (a ``TextClassificationTask``) or a :class:`CustomImageTask` (an
``ImageClassificationTask``). Data problems surface here, as one-line :class:`DataError`\\ s
naming the file, before any model is built or trained (images: when their split is first
loaded, still before training or evaluation starts).

Labels: the ``ClassLabel`` names of the train split where it has them, else its sorted distinct
values (string labels become ids in that order); ``label_names`` pins another order. A class in
an evaluation split that the train split lacks is an error. Regression labels must be numbers.

Splits: the data's own (``train`` plus ``validation``/``test``, unlabelled test splits dropped);
``validation_split`` holds out a seeded, stratified fraction of the train split instead. Data
with a single split and no ``validation_split`` evaluates on that split (for ``evaluate``);
:meth:`CustomTaskMixin.check_holdout` refuses it for training.

Images are decoded once each, when their split is first loaded (so before training or evaluation
uses them, without decoding a large train split that an evaluation never reads). One that does
not decode: ``on_bad_image="fail"`` (default) stops at the first, naming its file;
``"skip"`` drops them with a warning that counts them (:attr:`CustomTaskMixin.skipped_images`).
"""

from __future__ import annotations

import collections
import dataclasses
import io
import json
import logging
import re
import warnings
from pathlib import Path
from typing import Any, Optional

import datasets

from hfcompress.errors import ConfigError, DataError, TaskError
from hfcompress.tasks.base import Task
from hfcompress.tasks.data import DATA_FILE_BUILDERS, load_hub_splits, load_local, mirror_root
from hfcompress.tasks.glue import TextClassificationTask
from hfcompress.tasks.metrics import METRIC_NAMES
from hfcompress.tasks.spec import DEFAULT_METRIC, REGRESSION_METRICS, TaskSpec
from hfcompress.tasks.vision import ImageClassificationTask

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm",
                              ".pgm", ".pbm", ".jfif", ".jpe"})
GENERIC_LABEL = re.compile(r"^LABEL_\d+$")
HUB_ID = re.compile(r"^[\w.-]+(/[\w.-]+)?$")


class CustomTaskMixin:
    """What custom tasks add to the built-in Task classes (data held in memory, spec, label check)."""

    spec: TaskSpec

    def describe(self) -> dict[str, Any]:
        """The resolved spec (columns, splits, label names, metric pinned), JSON-ready."""
        return self.spec.to_dict()

    def _load_raw(self, split: str, mirror: Optional[str]) -> datasets.Dataset:
        pending: set = getattr(self, "_pending_images", set())
        if split in pending:  # images are decoded once, when their split is first used
            ds, n_bad = _check_images(self._where(split), self._splits[split], self.image_column,  # type: ignore[attr-defined]
                                      self.spec.on_bad_image)
            self._splits[split] = ds  # type: ignore[attr-defined]
            pending.discard(split)
            if n_bad:
                self._skipped[split] = n_bad  # type: ignore[attr-defined]
        return self._splits[split]  # type: ignore[attr-defined]

    @property
    def skipped_images(self) -> dict[str, int]:
        """Per split, how many images were dropped because they do not decode (``on_bad_image=skip``)."""
        return dict(getattr(self, "_skipped", {}))

    def check_holdout(self) -> None:
        """Refuse to train when evaluation would run on the training rows themselves."""
        if tuple(self.eval_splits) == (self.train_split,):  # type: ignore[attr-defined]
            raise DataError(f"{self.spec.dataset}: one split only ({self.train_split!r}), so nothing is held "  # type: ignore[attr-defined]
                            "out for evaluation; give --validation-split FRACTION (e.g. 0.1)")

    def check_model_labels(self, config) -> None:
        """The label count (as built-in tasks), then the label names unless the model's are generic."""
        Task.check_model_labels(self, config)  # type: ignore[arg-type]
        if self.is_regression:  # type: ignore[attr-defined]
            return
        id2label = getattr(config, "id2label", None) or {}
        model = [str(id2label[k]) for k in sorted(id2label, key=int)]
        data = list(self.label_names)  # type: ignore[attr-defined]
        if not model or all(GENERIC_LABEL.match(n) for n in model) or model == data:
            return
        if sorted(model) == sorted(data):
            raise TaskError(f"model labels {model} are the labels of {self.name!r} in another order {data}; "  # type: ignore[attr-defined]
                            f"pin the model's order with --label-names {','.join(model)}")
        raise TaskError(f"model labels {model} do not match the labels of {self.name!r}: {data}; "  # type: ignore[attr-defined]
                        "use a model trained on these labels, or train with --reinit-head")


@dataclasses.dataclass(frozen=True)
class CustomTextTask(CustomTaskMixin, TextClassificationTask):
    spec: TaskSpec = dataclasses.field(default=None, compare=False)  # type: ignore[assignment]


@dataclasses.dataclass(frozen=True)
class CustomImageTask(CustomTaskMixin, ImageClassificationTask):
    spec: TaskSpec = dataclasses.field(default=None, compare=False)  # type: ignore[assignment]

    def _images(self, values, preprocessor) -> list:
        """Photos come in any size: a processor that does not resize (the CIFAR default) gets
        images resized to its ``size`` (bilinear); images of that size already are left untouched."""
        images = ImageClassificationTask._images(self, values, preprocessor)
        size = getattr(preprocessor, "size", None)
        height, width = (getattr(size, k, None) if not isinstance(size, dict) else size.get(k) for k in ("height", "width"))
        if getattr(preprocessor, "do_resize", True) or not (height and width):
            return images
        target = (int(width), int(height))
        from PIL import Image

        return [img if img.size == target else img.resize(target, Image.BILINEAR) for img in images]


# -- reading the data -------------------------------------------------------------------
@dataclasses.dataclass
class _Source:
    kind: str  # "hub" | "file" | "folder"
    where: str  # what error messages name
    builder: Optional[str] = None
    builder_kwargs: dict = dataclasses.field(default_factory=dict)
    path: Optional[Path] = None

    def split_where(self, split: str) -> str:
        if self.kind == "file":
            return self.where
        return f"{self.where} (split {split!r})"


def _source(spec: TaskSpec) -> _Source:
    path = Path(spec.dataset).expanduser()
    if path.is_file():
        ext = path.suffix.lower()
        if ext not in DATA_FILE_BUILDERS:
            raise DataError(f"{path}: unsupported data file type {ext or '(none)'!r}; expected one of "
                            f"{', '.join(sorted(DATA_FILE_BUILDERS))}, or a folder of images")
        if path.stat().st_size == 0:
            raise DataError(f"{path}: empty file")
        builder, kwargs = DATA_FILE_BUILDERS[ext]
        return _Source("file", str(path), builder, kwargs, path.resolve())
    if path.is_dir():
        files = [f for f in path.rglob("*") if f.is_file() and not any(p.startswith(".") for p in f.relative_to(path).parts)]
        data_exts = sorted({f.suffix.lower() for f in files if f.suffix.lower() in DATA_FILE_BUILDERS})
        builders = sorted({DATA_FILE_BUILDERS[e][0] for e in data_exts})
        images = any(f.suffix.lower() in IMAGE_EXTENSIONS for f in files)
        if spec.kind == "image-classification" or (images and not builders):
            if not images:
                raise DataError(f"{path}: no image files in this folder (expected one sub-folder of images per class)")
            return _Source("folder", str(path), "imagefolder", {}, path.resolve())
        if len(builders) > 1 or len({tuple(DATA_FILE_BUILDERS[e][1].items()) for e in data_exts}) > 1:
            raise DataError(f"{path}: data files of several types ({', '.join(data_exts)}); keep one type per folder")
        if not builders:
            raise DataError(f"{path}: no data files ({', '.join(sorted(DATA_FILE_BUILDERS))}) and no images in "
                            "this folder")
        for f in files:
            if f.suffix.lower() in DATA_FILE_BUILDERS and f.stat().st_size == 0:
                raise DataError(f"{f}: empty file")
        builder, kwargs = DATA_FILE_BUILDERS[data_exts[0]]
        return _Source("folder", str(path), builder, kwargs, path.resolve())
    if path.suffix.lower() in DATA_FILE_BUILDERS or not HUB_ID.match(spec.dataset):
        raise DataError(f"{spec.dataset}: no such file or folder")
    return _Source("hub", spec.dataset + (f" ({spec.config})" if spec.config else ""))


def _read(spec: TaskSpec, src: _Source, mirror: Optional[str]) -> dict[str, datasets.Dataset]:
    if src.kind == "hub":
        try:
            return load_hub_splits(spec.dataset, spec.config, spec.revision, mirror)
        except DataError as exc:
            raise DataError(f"{exc} (and there is no local file or folder {spec.dataset!r})") from None
    if spec.config is not None:
        raise ConfigError(f"task.config: {spec.config!r} is for Hub datasets; {src.where} is a local "
                          f"{'file' if src.kind == 'file' else 'folder'}")
    return load_local(src.path, src.builder, src.builder_kwargs)  # type: ignore[arg-type]


def _columns_error(where: str, what: str, missing: list[str], ds: datasets.Dataset, flag: str) -> DataError:
    return DataError(f"{where}: no {what} {', '.join(map(repr, missing))}; columns: "
                     f"{', '.join(ds.column_names)} (choose with {flag})")


def _label_values(where: str, ds: datasets.Dataset, column: str) -> list:
    values = ds[column]
    feature = ds.features[column]
    for i, v in enumerate(values):
        if v is None or (isinstance(v, float) and v != v) or (isinstance(feature, datasets.ClassLabel) and v < 0):
            raise DataError(f"{where}: row {i} has no label in column {column!r}")
    return values


def _sort_key(value):
    return (0, value, "") if isinstance(value, (int, float)) and not isinstance(value, bool) else (1, 0, str(value))


def _is_unlabelled(ds: datasets.Dataset, column: str) -> bool:
    """A split without labels (GLUE-style test splits: every label -1, or every label missing)."""
    if column not in ds.column_names:
        return False
    feature = ds.features[column]
    values = ds[column]
    if isinstance(feature, datasets.ClassLabel):
        return all(v is None or v < 0 for v in values)
    return all(v is None for v in values)


def _order_eval_splits(names: list[str]) -> list[str]:
    def rank(s):
        return (0 if s.startswith(("validation", "valid", "dev")) else 1 if s.startswith("test") else 2, s)

    return sorted(names, key=rank)


def _check_images(where: str, ds: datasets.Dataset, column: str, on_bad: str) -> tuple[datasets.Dataset, int]:
    """Decode every image once; fail on the first bad one, or drop the bad ones (and count them)."""
    from PIL import Image

    raw = ds.cast_column(column, datasets.Image(decode=False))
    bad: list[tuple[int, str, str]] = []
    for i, value in enumerate(raw[column]):
        name = (value or {}).get("path") or f"row {i}"
        try:
            if not value or (value.get("bytes") is None and not value.get("path")):
                raise ValueError("no image data")
            source = io.BytesIO(value["bytes"]) if value.get("bytes") is not None else value["path"]
            with Image.open(source) as img:
                img.convert("RGB")
        except Exception as exc:  # PIL raises several types (UnidentifiedImageError, OSError ...)
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if on_bad == "fail":
                raise DataError(f"{name}: image does not decode ({reason}); in {where}; pass --on-bad-image skip "
                                "to skip such images") from None
            bad.append((i, name, reason))
    if not bad:
        return ds, 0
    skip = {i for i, _, _ in bad}
    message = f"{where}: skipped {len(bad)} image(s) that do not decode (first: {bad[0][1]}: {bad[0][2]})"
    warnings.warn(message, stacklevel=3)
    logger.warning(message)
    kept = ds.select([i for i in range(len(ds)) if i not in skip])
    if len(kept) == 0:
        raise DataError(f"{where}: no image decodes")
    return kept, len(bad)


def _resolve(spec: TaskSpec, mirror: Optional[str]) -> Task:  # noqa: C901 - one pass over the checks, in order
    src = _source(spec)
    splits = _read(spec, src, mirror)
    label_column = spec.label_column or "label"
    where = src.split_where

    for name, ds in splits.items():
        if len(ds) == 0:
            raise DataError(f"{where(name)}: no rows" if src.kind != "file" else f"{src.where}: empty file (no rows)")

    # -- splits -------------------------------------------------------------------------
    available = list(splits)
    if spec.train_split is not None:
        train = spec.train_split
        if train not in splits:
            raise DataError(f"{src.where}: no split {train!r} (train_split); splits: {', '.join(available)}")
    elif "train" in splits:
        train = "train"
    elif len(splits) == 1:
        train = available[0]
    else:
        raise DataError(f"{src.where}: no 'train' split; splits: {', '.join(available)} (choose with --train-split)")
    if spec.validation_split is not None and "validation" in splits:
        raise DataError(f"{src.where}: has its own 'validation' split; drop --validation-split (or choose "
                        "--train-split/--split)")
    if spec.eval_splits is not None:
        for s in spec.eval_splits:
            if s not in splits and not (s == "validation" and spec.validation_split is not None):
                raise DataError(f"{src.where}: no split {s!r}; splits: {', '.join(available)}")
        eval_splits = list(spec.eval_splits)
    else:
        others = [s for s in available if s != train and not _is_unlabelled(splits[s], label_column)]
        eval_splits = (["validation"] if spec.validation_split is not None else []) + _order_eval_splits(others)
        eval_splits = eval_splits or [train]
    splits = {s: ds for s, ds in splits.items() if s == train or s in eval_splits}

    # -- columns and kind ---------------------------------------------------------------
    train_ds = splits[train]
    features = train_ds.features
    if label_column not in train_ds.column_names:
        raise _columns_error(where(train), "label column", [label_column], train_ds, "--label-column")
    image_columns = [c for c, f in features.items() if isinstance(f, datasets.Image)]
    kind = spec.kind
    image_column = spec.image_column
    if kind is None and (image_column is not None or image_columns):
        kind = "image-classification"
    text_columns: list[str] = []
    if kind == "image-classification":
        image_column = image_column or (image_columns[0] if image_columns else "image")
        required = [image_column, label_column]
    else:
        if spec.text_columns is not None:
            text_columns = list(spec.text_columns)
        else:
            text_columns = [c for c, f in features.items() if c != label_column
                            and isinstance(f, datasets.Value) and f.dtype in ("string", "large_string")]
            if not 1 <= len(text_columns) <= 2:
                raise DataError(f"{where(train)}: cannot tell the text column(s): text columns "
                                f"{text_columns or 'none'}; columns: {', '.join(train_ds.column_names)} "
                                "(choose with --text-columns)")
        if kind is None:
            label_feature = features[label_column]
            is_float = isinstance(label_feature, datasets.Value) and label_feature.dtype.startswith("float")
            kind = "regression" if is_float else (
                "text-pair-classification" if len(text_columns) == 2 else "text-classification")
        required = [*text_columns, label_column]
    for name, ds in splits.items():
        missing = [c for c in required if c not in ds.column_names]
        if missing:
            what = "column" if len(missing) == 1 else "columns"
            raise _columns_error(where(name), what, missing, ds,
                                 "--label-column" if missing == [label_column] else
                                 "--image-column" if kind == "image-classification" else "--text-columns")
    if kind != "image-classification":
        def fill(batch):
            return {c: ["" if v is None else str(v) for v in batch[c]] for c in text_columns}

        for name, ds in splits.items():  # empty cells become "", numbers become text
            if any(not (isinstance(ds.features[c], datasets.Value) and ds.features[c].dtype in ("string", "large_string"))
                   or None in ds[c] for c in text_columns):
                text_features = ds.features.copy()
                text_features.update({c: datasets.Value("string") for c in text_columns})
                splits[name] = ds.map(fill, batched=True, keep_in_memory=True, load_from_cache_file=False,
                                      features=text_features, desc="text columns")

    # -- metric ---------------------------------------------------------------------------
    metric = (spec.metric or DEFAULT_METRIC[kind]).lower()
    if (kind == "regression") != (metric in REGRESSION_METRICS):
        takes = "a regression metric (pearson, spearman)" if kind == "regression" else \
            "a classification metric (accuracy, f1, f1_macro, f1_micro, matthews_correlation)"
        raise ConfigError(f"task.metric: {metric!r} does not fit {kind}; it takes {takes}")

    # -- labels ---------------------------------------------------------------------------
    label_names: list[str] = []
    if kind == "regression":
        for name, ds in list(splits.items()):
            feature = ds.features[label_column]
            values = _label_values(where(name), ds, label_column)
            if isinstance(feature, datasets.ClassLabel) or not (
                    isinstance(feature, datasets.Value) and (feature.dtype.startswith(("float", "int", "uint")))):
                for i, v in enumerate(values):
                    try:
                        if isinstance(feature, datasets.ClassLabel) or isinstance(v, bool):
                            raise ValueError
                        float(v)
                    except (TypeError, ValueError):
                        raise DataError(f"{where(name)}: regression needs a numeric label; column {label_column!r} "
                                        f"row {i} holds {v!r}") from None
            if feature != datasets.Value("float32"):
                try:
                    splits[name] = ds.cast_column(label_column, datasets.Value("float32"))
                except (ValueError, TypeError) as exc:  # pyarrow's ArrowInvalid is a ValueError
                    raise DataError(f"{where(name)}: regression needs a numeric label; column {label_column!r}: "
                                    f"{str(exc).splitlines()[0]}") from None
    else:
        feature = features[label_column]
        class_names = list(feature.names) if isinstance(feature, datasets.ClassLabel) else None

        def names_of(name: str, ds: datasets.Dataset) -> list[str]:
            values = _label_values(where(name), ds, label_column)
            f = ds.features[label_column]
            if isinstance(f, datasets.ClassLabel):
                return [f.names[v] for v in values]
            return [str(v) for v in values]

        split_names = {name: names_of(name, ds) for name, ds in splits.items()}
        raw_train = train_ds[label_column]
        present = set(split_names[train])
        if spec.label_names is not None:
            label_names = list(spec.label_names)
            unknown = sorted(present - set(label_names))
            if unknown:
                raise DataError(f"{where(train)}: label(s) {unknown} are not in label_names {label_names}")
        elif class_names is not None:
            label_names = class_names
        else:
            distinct = {str(v): v for v in raw_train}
            label_names = [str(v) for v in sorted(distinct.values(), key=_sort_key)]
        if len(present) < 2:
            raise DataError(f"{where(train)}: one class only ({sorted(present)}) in column {label_column!r}; "
                            "classification needs two or more")
        for name in splits:
            unseen = sorted(set(split_names[name]) - present)
            if name != train and unseen:
                raise DataError(f"{where(name)}: class(es) {unseen} present in {name!r} but not in the train split "
                                f"{train!r}")
        if metric in ("f1", "f1_binary") and len(label_names) != 2:
            raise ConfigError(f"task.metric: f1 is binary (F1 of label {label_names[1]!r}); this data has "
                              f"{len(label_names)} classes: use f1_macro or f1_micro")
        target = datasets.ClassLabel(names=label_names)
        index = {n: i for i, n in enumerate(label_names)}
        for name, ds in list(splits.items()):
            f = ds.features[label_column]
            if isinstance(f, datasets.ClassLabel) and list(f.names) == label_names:
                continue
            ids = [index[n] for n in split_names[name]]
            ds = ds.remove_columns(label_column).add_column(label_column, ids)
            splits[name] = ds.cast_column(label_column, target)

    # -- held-out fraction --------------------------------------------------------------
    if spec.validation_split is not None:
        try:
            parts = splits[train].train_test_split(
                test_size=spec.validation_split, seed=spec.split_seed, keep_in_memory=True,
                stratify_by_column=None if kind == "regression" else label_column)
        except ValueError as exc:
            how = "" if kind == "regression" else " stratified by label"
            raise DataError(f"{where(train)}: cannot hold out --validation-split {spec.validation_split}{how}: "
                            f"{str(exc).splitlines()[0]}") from None
        splits[train], splits["validation"] = parts["train"], parts["test"]

    # -- images -------------------------------------------------------------------------
    skipped: dict[str, int] = {}
    if kind == "image-classification":
        for name, ds in list(splits.items()):
            if not isinstance(ds.features[image_column], datasets.Image):
                try:
                    ds = ds.cast_column(image_column, datasets.Image())
                except Exception as exc:
                    raise DataError(f"{where(name)}: column {image_column!r} does not hold images "
                                    f"({str(exc).splitlines()[0]})") from None
            splits[name] = ds

    # -- the task -------------------------------------------------------------------------
    dataset = str(src.path) if src.path is not None else spec.dataset
    resolved = dataclasses.replace(
        spec, dataset=dataset, name=spec.display_name(), kind=kind,
        text_columns=text_columns or None, label_column=label_column,
        image_column=image_column if kind == "image-classification" else None,
        train_split=train, eval_splits=eval_splits, metric=metric, label_names=label_names or None)
    common = dict(name=resolved.name, hub_id=dataset, hub_config=spec.config, label_names=tuple(label_names),
                  metric=METRIC_NAMES[metric], train_split=train, eval_splits=tuple(eval_splits),
                  label_column=label_column, spec=resolved)
    if kind == "image-classification":
        task: Task = CustomImageTask(image_column=image_column, **common)
    else:
        task = CustomTextTask(text_columns=tuple(text_columns), **common)
    object.__setattr__(task, "_splits", splits)
    object.__setattr__(task, "_skipped", skipped)
    object.__setattr__(task, "_where", where)
    object.__setattr__(task, "_pending_images", set(splits) if kind == "image-classification" else set())
    return task


# -- building, with a small cache (pipelines call get_task once per stage) ----------------
_CACHE: "collections.OrderedDict[str, Task]" = collections.OrderedDict()
_CACHE_SIZE = 4


def _fingerprint(spec: TaskSpec, mirror: Optional[str]) -> str:
    path = Path(spec.dataset).expanduser()
    stats: list = []
    if path.is_file():
        st = path.stat()
        stats = [str(path.resolve()), st.st_size, st.st_mtime_ns]
    elif path.is_dir():
        for f in sorted(path.rglob("*")):
            if f.is_file():
                st = f.stat()
                stats.append((str(f), st.st_size, st.st_mtime_ns))
    root = None if stats else mirror_root(mirror)
    return json.dumps([spec.to_dict(), str(root) if root else None, stats], sort_keys=True, default=str)


def build_task(spec: TaskSpec | dict, mirror: Optional[str] = None) -> Task:
    """The Task for a spec (or its dict): reads and checks the data, once per spec and data version."""
    if isinstance(spec, dict):
        spec = TaskSpec.from_dict(spec, where="task")
    key = _fingerprint(spec, mirror)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    task = _resolve(spec, mirror)
    _CACHE[key] = task
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return task

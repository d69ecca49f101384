"""Task metrics through the ``evaluate`` library's interface, without the Hub.

``evaluate.load("glue", "sst2")`` downloads a metric script from the Hub and fails offline.
:class:`TaskMetric` is an ``evaluate.Metric`` defined in this package instead: same
``compute(predictions=..., references=...)`` call, same result keys and the same formulas as the
official GLUE metric (accuracy; F1 of the positive class with scikit-learn; Matthews
correlation with scikit-learn; Pearson and Spearman with SciPy), so numbers are comparable with
published GLUE scores. The equality is tested on known inputs in tests/tasks/test_metrics.py.

Importing ``evaluate`` costs seconds (it pulls in ``transformers.pipelines``), so this module
does not import it: the ``TaskMetric`` class is created on first use (:func:`load_metric`, or
``from hfcompress.tasks.metrics import TaskMetric``). scikit-learn and SciPy are imported when a
metric is computed.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

# metric kind -> the keys it returns (a task's ``metric`` field is one of these kinds)
METRIC_KINDS: dict[str, tuple[str, ...]] = {
    "accuracy": ("accuracy",),
    "accuracy_f1": ("accuracy", "f1"),
    "matthews_correlation": ("matthews_correlation",),
    "pearson_spearman": ("pearson", "spearmanr"),
    # kinds a custom task can choose by name (the main metric is the kind's name)
    "f1": ("accuracy", "f1"),
    "f1_macro": ("accuracy", "f1_macro"),
    "f1_micro": ("accuracy", "f1_micro"),
    "spearman": ("pearson", "spearmanr"),
}

# metric kind -> the key that ranks models (the headline number of a task)
MAIN_METRIC: dict[str, str] = {
    "accuracy": "accuracy", "accuracy_f1": "accuracy", "matthews_correlation": "matthews_correlation",
    "pearson_spearman": "pearson", "f1": "f1", "f1_macro": "f1_macro", "f1_micro": "f1_micro",
    "spearman": "spearmanr",
}

REGRESSION_KINDS = frozenset({"pearson_spearman", "spearman"})

# user-facing metric names (``--metric``, ``task: {metric: ...}``) -> metric kind
METRIC_NAMES: dict[str, str] = {
    "accuracy": "accuracy",
    "f1": "f1", "f1_binary": "f1",
    "f1_macro": "f1_macro",
    "f1_micro": "f1_micro",
    "matthews_correlation": "matthews_correlation", "mcc": "matthews_correlation",
    "pearson": "pearson_spearman", "pearson_spearman": "pearson_spearman",
    "spearman": "spearman", "spearmanr": "spearman",
}


def metric_kind(name: str) -> str:
    """The metric kind for a user-facing metric name; KeyError listing the known names."""
    try:
        return METRIC_NAMES[name.lower()]
    except (KeyError, AttributeError):
        raise KeyError(f"unknown metric {name!r}; known metrics: {', '.join(sorted(METRIC_NAMES))}") from None


def compute(kind: str, predictions, references) -> dict[str, float]:
    """The formulas (shared by :class:`TaskMetric`): scikit-learn / SciPy, as the GLUE metric."""
    predictions = np.asarray(predictions)
    references = np.asarray(references)
    if kind in REGRESSION_KINDS:
        from scipy.stats import pearsonr, spearmanr

        return {
            "pearson": float(pearsonr(predictions, references)[0]),
            "spearmanr": float(spearmanr(predictions, references)[0]),
        }
    if kind == "matthews_correlation":
        from sklearn.metrics import matthews_corrcoef

        return {"matthews_correlation": float(matthews_corrcoef(references, predictions))}
    result = {"accuracy": float((predictions == references).mean())}
    if kind in ("accuracy_f1", "f1"):
        from sklearn.metrics import f1_score

        result["f1"] = float(f1_score(y_true=references, y_pred=predictions))
    elif kind in ("f1_macro", "f1_micro"):
        from sklearn.metrics import f1_score

        result[kind] = float(f1_score(y_true=references, y_pred=predictions, average=kind.removeprefix("f1_")))
    return result


@functools.cache
def _task_metric_class() -> type:
    import datasets
    import evaluate

    class TaskMetric(evaluate.Metric):
        """GLUE/CIFAR metrics; ``config_name`` is one of :data:`METRIC_KINDS`."""

        def _info(self) -> evaluate.MetricInfo:
            if self.config_name not in METRIC_KINDS:
                raise KeyError(f"unknown metric kind {self.config_name!r}; expected one of {sorted(METRIC_KINDS)}")
            value = "float32" if self.config_name in REGRESSION_KINDS else "int64"
            return evaluate.MetricInfo(
                description="GLUE-compatible task metrics computed offline (scikit-learn / SciPy).",
                citation="Wang et al., GLUE: A Multi-Task Benchmark and Analysis Platform for NLU, 2019.",
                inputs_description="predictions: class ids (or scores for regression); references: gold labels.",
                features=datasets.Features({"predictions": datasets.Value(value),
                                            "references": datasets.Value(value)}),
                format="numpy",
            )

        def _compute(self, predictions, references):
            return compute(self.config_name, predictions, references)

    TaskMetric.__module__ = __name__
    return TaskMetric


def __getattr__(name: str) -> Any:  # PEP 562: ``from hfcompress.tasks.metrics import TaskMetric``
    if name == "TaskMetric":
        return _task_metric_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_metric(kind: str):
    """An in-memory metric module of one kind (no cache files, no Hub): a ``TaskMetric``."""
    if kind not in METRIC_KINDS:
        raise KeyError(f"unknown metric kind {kind!r}; expected one of {sorted(METRIC_KINDS)}")
    return _task_metric_class()(config_name=kind, keep_in_memory=True)

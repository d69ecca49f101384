"""Task metrics through the ``evaluate`` library's interface, without the Hub.

``evaluate.load("glue", "sst2")`` downloads a metric script from the Hub and fails offline.
:class:`TaskMetric` is an ``evaluate.Metric`` defined in this package instead: same
``compute(predictions=..., references=...)`` call, same result keys and the same formulas as the
official GLUE metric (accuracy; F1 of the positive class with scikit-learn; Matthews
correlation with scikit-learn; Pearson and Spearman with SciPy), so numbers are comparable with
published GLUE scores. The equality is tested on known inputs in tests/tasks/test_metrics.py.
"""

from __future__ import annotations

import datasets
import evaluate
import numpy as np
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import f1_score, matthews_corrcoef

# metric kind -> the keys it returns
METRIC_KINDS = {
    "accuracy": ("accuracy",),
    "accuracy_f1": ("accuracy", "f1"),
    "matthews_correlation": ("matthews_correlation",),
    "pearson_spearman": ("pearson", "spearmanr"),
}


class TaskMetric(evaluate.Metric):
    """GLUE/CIFAR metrics; ``config_name`` is one of :data:`METRIC_KINDS`."""

    def _info(self) -> evaluate.MetricInfo:
        if self.config_name not in METRIC_KINDS:
            raise KeyError(f"unknown metric kind {self.config_name!r}; expected one of {sorted(METRIC_KINDS)}")
        value = "float32" if self.config_name == "pearson_spearman" else "int64"
        return evaluate.MetricInfo(
            description="GLUE-compatible task metrics computed offline (scikit-learn / SciPy).",
            citation="Wang et al., GLUE: A Multi-Task Benchmark and Analysis Platform for NLU, 2019.",
            inputs_description="predictions: class ids (or scores for regression); references: gold labels.",
            features=datasets.Features({"predictions": datasets.Value(value), "references": datasets.Value(value)}),
            format="numpy",
        )

    def _compute(self, predictions, references):
        predictions = np.asarray(predictions)
        references = np.asarray(references)
        kind = self.config_name
        if kind == "pearson_spearman":
            return {
                "pearson": float(pearsonr(predictions, references)[0]),
                "spearmanr": float(spearmanr(predictions, references)[0]),
            }
        if kind == "matthews_correlation":
            return {"matthews_correlation": float(matthews_corrcoef(references, predictions))}
        result = {"accuracy": float((predictions == references).mean())}
        if kind == "accuracy_f1":
            result["f1"] = float(f1_score(y_true=references, y_pred=predictions))
        return result


def load_metric(kind: str) -> TaskMetric:
    """An in-memory metric module of one kind (no cache files, no Hub)."""
    if kind not in METRIC_KINDS:
        raise KeyError(f"unknown metric kind {kind!r}; expected one of {sorted(METRIC_KINDS)}")
    return TaskMetric(config_name=kind, keep_in_memory=True)

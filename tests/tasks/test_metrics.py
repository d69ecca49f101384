"""The offline metrics give the official GLUE numbers (same formulas, checked on known inputs)."""

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import f1_score, matthews_corrcoef

from hfcompress.tasks.metrics import load_metric
from hfcompress.tasks import get_task

PRED = [1, 0, 1, 1, 0, 1, 0, 0]
GOLD = [1, 0, 0, 1, 0, 1, 1, 0]


def test_accuracy_and_f1_hand_computed():
    out = load_metric("accuracy_f1").compute(predictions=PRED, references=GOLD)
    # 6 of 8 right; positive class: tp=3, fp=1, fn=1 -> precision=recall=0.75 -> F1=0.75
    assert out == {"accuracy": 0.75, "f1": 0.75}


def test_matthews_hand_computed():
    out = load_metric("matthews_correlation").compute(predictions=PRED, references=GOLD)
    # tp=3 tn=3 fp=1 fn=1: (9-1)/sqrt(4*4*4*4) = 0.5
    assert out["matthews_correlation"] == pytest.approx(0.5)


def test_pearson_spearman_match_scipy():
    rng = np.random.default_rng(0)
    gold = rng.uniform(0, 5, 50).astype(np.float32)
    pred = (gold + rng.normal(0, 1, 50)).astype(np.float32)
    out = load_metric("pearson_spearman").compute(predictions=pred, references=gold)
    assert out["pearson"] == pytest.approx(pearsonr(pred, gold)[0], rel=1e-6)
    assert out["spearmanr"] == pytest.approx(spearmanr(pred, gold)[0], rel=1e-6)


def test_random_inputs_match_sklearn():
    rng = np.random.default_rng(1)
    gold, pred = rng.integers(0, 2, 200), rng.integers(0, 2, 200)
    assert load_metric("accuracy_f1").compute(predictions=pred, references=gold) == pytest.approx(
        {"accuracy": (pred == gold).mean(), "f1": f1_score(gold, pred)})
    assert load_metric("matthews_correlation").compute(predictions=pred, references=gold)[
        "matthews_correlation"] == pytest.approx(matthews_corrcoef(gold, pred))


@pytest.mark.parametrize("task, keys", [
    ("sst2", {"accuracy"}), ("mrpc", {"accuracy", "f1"}), ("qqp", {"accuracy", "f1"}),
    ("cola", {"matthews_correlation"}), ("stsb", {"pearson", "spearmanr"}), ("mnli", {"accuracy"}),
    ("qnli", {"accuracy"}), ("rte", {"accuracy"}), ("wnli", {"accuracy"}), ("cifar10", {"accuracy"}),
])
def test_each_task_uses_its_official_metric(task, keys):
    t = get_task(task)
    n = t.num_labels
    logits = np.random.default_rng(0).normal(size=(12, n)).astype(np.float32)
    labels = np.random.default_rng(1).uniform(0, 5, 12).astype(np.float32) if t.is_regression else np.arange(12) % n
    assert set(t.compute_metrics((logits, labels))) == keys


def test_argmax_for_classification_and_squeeze_for_regression():
    logits = np.array([[0.1, 0.9], [2.0, -1.0]])
    assert get_task("sst2").compute_metrics((logits, np.array([1, 0])))["accuracy"] == 1.0
    assert get_task("stsb").predictions(np.array([[1.5], [2.5]])).tolist() == [1.5, 2.5]

"""A built-in task given by its data gives the same evaluation as the built-in task (real mirror).

Same model (a tiny random BERT / ResNet: cheap, and any difference in rows, order of labels or
preprocessing changes its predictions), same rows, same numbers.
"""

from __future__ import annotations

import collections
import json

import numpy as np
import pytest

from hfcompress.config import EvalConfig
from hfcompress.evaluation import evaluate_loaded
from hfcompress.evaluation.run import predict_split
from hfcompress.hub.load import load
from hfcompress.tasks import get_task
from tests import helpers

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _eval(model_dir, task, split=None, limit=None):
    loaded = load(str(model_dir), task=task)
    cfg = EvalConfig(task=None, model=str(model_dir), split=split, limit=limit, batch_size=64, warmup=0, repeats=1)
    return evaluate_loaded(loaded, task, cfg), loaded


def _pairs(loaded, task, split, limit=None):
    """Multiset of (label, prediction) over a split: equal for equal rows in any order."""
    data = task.preprocess(task.load(split, limit=limit), loaded.preprocessor, max_length=128)
    logits, labels = predict_split(loaded, task, data, 64)
    preds = task.predictions(logits)
    return collections.Counter(zip(labels.round(4).tolist(), np.round(preds, 4).tolist()))


@pytest.fixture(scope="module")
def bert2(tmp_path_factory):
    return helpers.save_tiny_bert(tmp_path_factory.mktemp("bert2"), num_labels=2, seed=3)


@pytest.fixture(scope="module")
def bert1(tmp_path_factory):
    return helpers.save_tiny_bert(tmp_path_factory.mktemp("bert1"), num_labels=1, seed=3)


def test_rotten_tomatoes_by_its_hub_id(real_mirror, bert2, one_thread):
    builtin = get_task("rotten_tomatoes")
    custom = get_task({"dataset": "cornell-movie-review-data/rotten_tomatoes", "text_columns": ["text"]})
    assert custom.label_names == builtin.label_names == ("neg", "pos")
    # the mirror holds the train split only: the custom task evaluates on it, the built-in one is told to
    a, _ = _eval(bert2, builtin, split="train", limit=500)
    b, _ = _eval(bert2, custom, limit=500)
    assert b["splits"] == ["train"] and a["n_examples"] == b["n_examples"] == 500
    assert a["metrics"] == b["metrics"]
    assert builtin.load("train", limit=500)["text"] == custom.load("train", limit=500)["text"]


def test_sst2_as_a_parquet_file(real_mirror, bert2, one_thread):
    path = f"{real_mirror}/nyu-mll/glue/sst2/validation-00000-of-00001.parquet"
    custom = get_task({"dataset": path})
    assert custom.label_names == ("negative", "positive") and custom.text_columns == ("sentence",)
    a, la = _eval(bert2, get_task("sst2"))
    b, lb = _eval(bert2, custom)
    assert a["n_examples"] == b["n_examples"] == 872 and a["metrics"] == b["metrics"]
    assert _pairs(la, get_task("sst2"), "validation") == _pairs(lb, custom, "train")


def test_mrpc_as_a_csv_text_pair_with_label_names(real_mirror, bert2, tmp_path, one_thread):
    builtin = get_task("mrpc")
    raw = builtin.load("validation")
    names = builtin.label_names
    path = tmp_path / "mrpc.csv"
    raw.map(lambda r: {"label_name": names[r["label"]]}).remove_columns(["label", "idx"]).to_csv(str(path))
    custom = get_task({"dataset": str(path), "text_columns": ["sentence1", "sentence2"], "label_column": "label_name",
                       "label_names": list(names), "metric": "f1"})
    assert custom.describe()["kind"] == "text-pair-classification"
    a, _ = _eval(bert2, builtin)
    b, _ = _eval(bert2, custom)
    assert a["n_examples"] == b["n_examples"] == 408
    assert set(a["metrics"]) == set(b["metrics"]) == {"accuracy", "f1"}
    assert a["metrics"] == b["metrics"]


def test_stsb_as_json_lines_regression(real_mirror, bert1, tmp_path, one_thread):
    builtin = get_task("stsb")
    raw = builtin.load("validation")
    path = tmp_path / "stsb.jsonl"
    path.write_text("".join(json.dumps({"a": r["sentence1"], "b": r["sentence2"], "score": float(r["label"])}) + "\n"
                            for r in raw))
    custom = get_task({"dataset": str(path), "label_column": "score"})
    assert custom.is_regression and custom.text_columns == ("a", "b")
    a, _ = _eval(bert1, builtin)
    b, _ = _eval(bert1, custom)
    assert a["n_examples"] == b["n_examples"] == 1500
    assert set(b["metrics"]) == {"pearson", "spearmanr"}
    assert b["metrics"] == pytest.approx(a["metrics"], abs=1e-6)


def test_image_folder_from_cifar10_test_images(real_mirror, tmp_path, one_thread):
    import datasets

    builtin = get_task("cifar10")
    raw = builtin.load("test", limit=300).cast_column("img", datasets.Image(decode=False))
    folder = tmp_path / "photos"
    for i, row in enumerate(raw):
        (folder / builtin.label_names[row["label"]]).mkdir(parents=True, exist_ok=True)
        (folder / builtin.label_names[row["label"]] / f"{i:04d}.jpg").write_bytes(row["img"]["bytes"])
    custom = get_task({"dataset": str(folder), "kind": "image-classification"})
    assert custom.label_names == builtin.label_names and custom.eval_splits == ("train",)
    model = tmp_path / "resnet"
    helpers.tiny_resnet(seed=1).save_pretrained(model)
    a, la = _eval(model, builtin, limit=300)
    b, lb = _eval(model, custom)
    assert a["n_examples"] == b["n_examples"] == 300 and a["metrics"] == b["metrics"]
    assert _pairs(la, builtin, "test", limit=300) == _pairs(lb, custom, "train")

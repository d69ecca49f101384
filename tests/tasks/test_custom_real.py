"""A built-in task given by its data gives the same evaluation as the built-in task (real mirror).

Same model (a tiny random BERT / ResNet: cheap, and any difference in rows, order of labels or
preprocessing changes its predictions), same rows, same numbers.
"""

from __future__ import annotations

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


def _outputs(loaded, task, split, limit=None):
    """Labels and logits over a split, in its row order.

    Logits rather than predicted classes: a random tiny model may predict one class everywhere,
    but its logits still differ from row to row.
    """
    data = task.preprocess(task.load(split, limit=limit), loaded.preprocessor, max_length=128)
    logits, labels = predict_split(loaded, task, data, 64)
    return labels, logits.reshape(len(labels), -1)


def assert_same_outputs(a, b):
    (labels_a, logits_a), (labels_b, logits_b) = a, b
    assert np.array_equal(labels_a, labels_b)
    assert np.allclose(logits_a, logits_b, rtol=1e-4, atol=1e-5)
    assert logits_a[:, 0].std() > 1e-2  # the logits do vary with the input: a meaningful comparison


@pytest.fixture(scope="module")
def bert2(tmp_path_factory):
    return helpers.save_tiny_bert(tmp_path_factory.mktemp("bert2"), num_labels=2, seed=3, initializer_range=0.5)


@pytest.fixture(scope="module")
def bert1(tmp_path_factory):
    return helpers.save_tiny_bert(tmp_path_factory.mktemp("bert1"), num_labels=1, seed=3, initializer_range=0.5)


def test_rotten_tomatoes_by_its_hub_id(real_mirror, bert2, one_thread):
    builtin = get_task("rotten_tomatoes")
    custom = get_task({"dataset": "cornell-movie-review-data/rotten_tomatoes", "text_columns": ["text"]})
    assert custom.label_names == builtin.label_names == ("neg", "pos")
    # the mirror holds the train split only: the custom task evaluates on it, the built-in one is told to
    a, la = _eval(bert2, builtin, split="train", limit=500)
    b, lb = _eval(bert2, custom, limit=500)
    assert b["splits"] == ["train"] and a["n_examples"] == b["n_examples"] == 500
    assert a["metrics"] == b["metrics"]
    assert builtin.load("train", limit=500)["text"] == custom.load("train", limit=500)["text"]
    assert_same_outputs(_outputs(la, builtin, "train", limit=500), _outputs(lb, custom, "train", limit=500))


def test_sst2_as_a_parquet_file(real_mirror, bert2, one_thread):
    path = f"{real_mirror}/nyu-mll/glue/sst2/validation-00000-of-00001.parquet"
    custom = get_task({"dataset": path})
    assert custom.label_names == ("negative", "positive") and custom.text_columns == ("sentence",)
    a, la = _eval(bert2, get_task("sst2"))
    b, lb = _eval(bert2, custom)
    assert a["n_examples"] == b["n_examples"] == 872 and a["metrics"] == b["metrics"]
    assert_same_outputs(_outputs(la, get_task("sst2"), "validation"), _outputs(lb, custom, "train"))


def test_mrpc_as_a_csv_text_pair_with_label_names(real_mirror, bert2, tmp_path, one_thread):
    builtin = get_task("mrpc")
    raw = builtin.load("validation")
    names = builtin.label_names
    path = tmp_path / "mrpc.csv"
    raw.map(lambda r: {"label_name": names[r["label"]]}).remove_columns(["label", "idx"]).to_csv(str(path))
    custom = get_task({"dataset": str(path), "text_columns": ["sentence1", "sentence2"], "label_column": "label_name",
                       "label_names": list(names), "metric": "f1"})
    assert custom.describe()["kind"] == "text-pair-classification"
    a, la = _eval(bert2, builtin)
    b, lb = _eval(bert2, custom)
    assert a["n_examples"] == b["n_examples"] == 408
    assert_same_outputs(_outputs(la, builtin, "validation"), _outputs(lb, custom, "train"))
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
    a, la = _eval(bert1, builtin)
    b, lb = _eval(bert1, custom)
    assert a["n_examples"] == b["n_examples"] == 1500
    assert_same_outputs(_outputs(la, builtin, "validation"), _outputs(lb, custom, "train"))
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
    # the folder lists images by class, then by file name (the row number in the built-in sample)
    labels, logits = _outputs(la, builtin, "test", limit=300)
    order = np.argsort(labels, kind="stable")
    assert_same_outputs((labels[order], logits[order]), _outputs(lb, custom, "train"))

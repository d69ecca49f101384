"""Tasks described by their data (issue 16): specs, files, labels, splits, records, bad data.

Fast tests on files written here; the comparisons with the built-in tasks on the real mirror
are in tests/tasks/test_custom_real.py.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from typing import Optional, Union

import numpy as np
import pytest
from sklearn.metrics import f1_score

from hfcompress.config import EvalConfig
from hfcompress.config.base import Config
from hfcompress.errors import ConfigError, DataError, TaskError
from hfcompress.evaluation import evaluate_model
from hfcompress.evaluation.run import resolve_eval_task
from hfcompress.hub.record import RECORD_KEY, CompressionRecord
from hfcompress.tasks import (TaskSpec, get_task, task_from_flags, task_from_record, task_key,
                              task_spec_from_flags)
from hfcompress.tasks.custom import CustomImageTask, CustomTextTask
from hfcompress.tasks.metrics import load_metric
from tests import helpers

SENT = helpers.SENTENCES


def write_csv(path, header, rows, sep=","):
    path.write_text("\n".join([sep.join(header)] + [sep.join(map(str, r)) for r in rows]) + "\n")
    return path


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def tickets(tmp_path):
    """A text-pair CSV with string labels (three queues, ten rows each)."""
    queues = ["billing", "tech", "account"]
    rows = [(f"subject {SENT[i % 8]}", f"body {SENT[(i + 3) % 8]}", queues[i % 3]) for i in range(30)]
    return write_csv(tmp_path / "tickets.csv", ["subject", "body", "queue"], rows)


# -- the spec ---------------------------------------------------------------------------
def test_spec_validation_names_the_field():
    with pytest.raises(ConfigError, match=r"task\.validation_split: a fraction in \(0, 1\)"):
        TaskSpec.from_dict({"dataset": "x.csv", "validation_split": 1.5}, where="task")
    with pytest.raises(ConfigError, match=r"task\.metric: unknown metric 'f2'"):
        TaskSpec.from_dict({"dataset": "x.csv", "metric": "f2"}, where="task")
    with pytest.raises(ConfigError, match=r"task\.metric: 'accuracy' is a classification metric"):
        TaskSpec.from_dict({"dataset": "x.csv", "kind": "regression", "metric": "accuracy"}, where="task")
    with pytest.raises(ConfigError, match=r"task\.kind: expected one of"):
        TaskSpec.from_dict({"dataset": "x.csv", "kind": "text"}, where="task")
    with pytest.raises(ConfigError, match=r"task\.text_columns: give one text column, or two"):
        TaskSpec.from_dict({"dataset": "x.csv", "text_columns": ["a", "b", "c"]}, where="task")
    with pytest.raises(ConfigError, match=r"task: unknown key 'text_column'"):
        TaskSpec.from_dict({"dataset": "x.csv", "text_column": "a"}, where="task")


def test_flags_build_a_spec_and_errors_name_the_flag():
    spec = task_spec_from_flags(dataset="data/t.csv", text_columns="subject, body", label_column="queue",
                                validation_split=0.1, split="validation,test")
    assert spec.text_columns == ["subject", "body"] and spec.eval_splits == ["validation", "test"]
    assert TaskSpec.from_flags(dataset="d", text_column="text").text_columns == ["text"]
    with pytest.raises(ConfigError, match=r"^--validation-split: a fraction"):
        task_spec_from_flags(dataset="d", validation_split=2.0)
    with pytest.raises(ConfigError, match=r"^--kind: expected one of"):
        task_spec_from_flags(dataset="d", kind="txt")
    assert task_from_flags(task="sst2") == "sst2"
    assert task_from_flags() is None
    assert task_from_flags(dataset="d", text_column="t")["text_columns"] == ["t"]
    with pytest.raises(ConfigError, match="--task and --dataset: give one of them"):
        task_from_flags(task="sst2", dataset="d")
    with pytest.raises(ConfigError, match="--label-column: describes a --dataset"):
        task_from_flags(task="sst2", label_column="y")


@dataclasses.dataclass
class Section(Config):
    task: Optional[Union[str, TaskSpec]] = None


def test_a_config_field_typed_str_or_taskspec_takes_a_name_or_a_description():
    """What recipes get once a config declares ``task: Union[str, TaskSpec]`` (e.g. EvalConfig)."""
    assert Section.from_dict({"task": "sst2"}).task == "sst2"
    section = Section.from_dict({"task": {"dataset": "d.csv", "text_columns": ["a"], "metric": "f1_macro"}})
    assert isinstance(section.task, TaskSpec) and section.to_dict()["task"]["metric"] == "f1_macro"
    # names the field; config.base's Union handling reports "does not fit" rather than the TaskSpec's own error
    with pytest.raises(ConfigError, match=r"^recipe\.evaluate\.task"):
        Section.from_dict({"task": {"dataset": "d.csv", "validation_split": 5}}, where="recipe.evaluate")


def test_argparse_flags_round_trip():
    import argparse

    from hfcompress.tasks.spec import add_task_flags, task_from_args

    parser = argparse.ArgumentParser()
    parser.add_argument("--task")
    add_task_flags(parser)
    args = parser.parse_args(["--dataset", "data/t.csv", "--text-columns", "subject,body", "--label-column", "queue",
                              "--validation-split", "0.1", "--metric", "f1_macro"])
    assert task_from_args(args) == TaskSpec(dataset="data/t.csv", text_columns=["subject", "body"], label_column="queue",
                                            validation_split=0.1, metric="f1_macro").to_dict()
    assert task_from_args(parser.parse_args(["--task", "sst2"])) == "sst2"
    with pytest.raises(ConfigError, match="^--on-bad-image: expected one of"):
        task_from_args(parser.parse_args(["--dataset", "d", "--on-bad-image", "maybe"]))


def test_task_key_groups_records():
    assert task_key("sst2") == "sst2"
    assert task_key({"dataset": "nyu-mll/glue", "config": "sst2"}) == "nyu-mll/glue:sst2"
    assert task_key({"dataset": "/d/t.csv", "name": "tickets"}) == "tickets"


# -- reading files ------------------------------------------------------------------------
def test_csv_text_pair_with_string_labels(tickets, tmp_path):
    task = get_task({"dataset": str(tickets), "text_columns": ["subject", "body"], "label_column": "queue",
                     "validation_split": 0.2, "metric": "f1_macro"})
    assert isinstance(task, CustomTextTask) and task.modality == "text"
    assert task.label_names == ("account", "billing", "tech")  # sorted distinct values
    assert task.text_columns == ("subject", "body") and task.main_metric == "f1_macro"
    assert task.train_split == "train" and task.eval_splits == ("validation",)
    train, val = task.load("train"), task.load("validation")
    assert len(train) == 24 and len(val) == 6
    assert sorted(val["queue"]) == [0, 0, 1, 1, 2, 2]  # stratified: two of each class
    tok = helpers.make_tokenizer(tmp_path / "tok")
    data = task.preprocess(val, tok, max_length=32)
    assert data[0]["input_ids"].count(tok.sep_token_id) == 2  # a text pair
    assert task.label_maps()["id2label"] == {0: "account", 1: "billing", 2: "tech"}
    spec = task.describe()
    assert spec["kind"] == "text-pair-classification" and spec["label_names"] == ["account", "billing", "tech"]
    assert spec["dataset"] == str(tickets.resolve()) and spec["name"] == str(tickets)
    json.dumps(spec)  # JSON-ready


def test_validation_split_is_seeded_and_the_same_every_run(tickets):
    from hfcompress.tasks import custom

    spec = {"dataset": str(tickets), "text_columns": ["subject", "body"], "label_column": "queue",
            "validation_split": 0.3}
    first = get_task(spec).load("validation")["subject"]
    custom._CACHE.clear()
    assert get_task(spec).load("validation")["subject"] == first
    custom._CACHE.clear()
    assert get_task({**spec, "split_seed": 1}).load("validation")["subject"] != first


def test_single_text_column_inferred_tsv_and_single_split(tmp_path):
    rows = [(SENT[i % 8], i % 2) for i in range(12)]
    path = write_csv(tmp_path / "reviews.tsv", ["text", "label"], rows, sep="\t")
    task = get_task({"dataset": str(path)})
    assert task.text_columns == ("text",) and task.label_names == ("0", "1")
    assert task.eval_splits == ("train",)  # one split, nothing held out: evaluate on all of it
    with pytest.raises(DataError, match="one split only.*--validation-split"):
        task.check_holdout()
    get_task({"dataset": str(path), "validation_split": 0.5}).check_holdout()


def test_empty_text_cells_and_numbers_become_text(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("subject,body,code,queue\nhello,,1,a\nhi,there,2,b\nx,y,3,a\n")
    task = get_task({"dataset": str(path), "text_columns": ["subject", "body"], "label_column": "queue"})
    assert task.load("train")["body"][:] == ["", "there", "y"]
    task = get_task({"dataset": str(path), "text_columns": ["code"], "label_column": "queue"})
    assert task.load("train")["code"][:] == ["1", "2", "3"]


def test_too_small_a_validation_split_names_the_problem(tickets):
    with pytest.raises(DataError, match=r"tickets\.csv: cannot hold out --validation-split 0\.05 stratified by label"):
        get_task({"dataset": str(tickets), "text_columns": ["subject", "body"], "label_column": "queue",
                  "validation_split": 0.05})


def test_jsonl_regression_and_its_metrics(tmp_path):
    rng = np.random.default_rng(0)
    rows = [{"s1": SENT[i % 8], "s2": SENT[(i * 3) % 8], "score": float(rng.uniform(0, 5))} for i in range(20)]
    path = write_jsonl(tmp_path / "sts.jsonl", rows)
    task = get_task({"dataset": str(path), "label_column": "score", "validation_split": 0.25})
    assert task.is_regression and task.num_labels == 1 and task.main_metric == "pearson"
    assert task.text_columns == ("s1", "s2") and task.describe()["kind"] == "regression"
    assert task.label_maps() == {"num_labels": 1, "problem_type": "regression"}
    out = task.compute_metrics((np.arange(5, dtype=np.float32)[:, None], np.arange(5, dtype=np.float32)))
    assert out == pytest.approx({"pearson": 1.0, "spearmanr": 1.0})
    assert get_task({"dataset": str(path), "label_column": "score", "metric": "spearman"}).main_metric == "spearmanr"


def test_folder_of_files_keeps_its_own_splits(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    for split, n in (("train", 10), ("validation", 4), ("test", 6)):
        write_csv(folder / f"{split}.csv", ["text", "label"], [(SENT[i % 8], ["neg", "pos"][i % 2]) for i in range(n)])
    task = get_task({"dataset": str(folder)})
    assert task.train_split == "train" and task.eval_splits == ("validation", "test")
    assert len(task.load("test")) == 6 and task.load("test", limit=3)["label"] == task.load("test", limit=3)["label"]
    assert get_task({"dataset": str(folder), "eval_splits": ["test"]}).eval_splits == ("test",)


def test_label_names_pin_the_order(tickets):
    task = get_task({"dataset": str(tickets), "text_columns": ["subject", "body"], "label_column": "queue",
                     "label_names": ["tech", "billing", "account"]})
    assert task.label_names == ("tech", "billing", "account")
    assert task.load("train")["queue"][:3] == [1, 0, 2]  # billing, tech, account
    with pytest.raises(DataError, match=r"label\(s\) \['tech'\] are not in label_names"):
        get_task({"dataset": str(tickets), "text_columns": ["subject", "body"], "label_column": "queue",
                  "label_names": ["billing", "account"]})


def test_f1_binary_needs_two_classes(tickets):
    with pytest.raises(ConfigError, match="f1 is binary.*3 classes: use f1_macro or f1_micro"):
        get_task({"dataset": str(tickets), "text_columns": ["subject", "body"], "label_column": "queue",
                  "metric": "f1"})


def test_f1_macro_and_micro_match_sklearn():
    rng = np.random.default_rng(2)
    gold, pred = rng.integers(0, 4, 100), rng.integers(0, 4, 100)
    assert load_metric("f1_macro").compute(predictions=pred, references=gold)["f1_macro"] == pytest.approx(
        f1_score(gold, pred, average="macro"))
    assert load_metric("f1_micro").compute(predictions=pred, references=gold)["f1_micro"] == pytest.approx(
        f1_score(gold, pred, average="micro"))


def test_import_does_not_load_evaluate():
    code = "import sys, hfcompress.tasks; print(sorted({'evaluate', 'torch', 'transformers'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- model labels ---------------------------------------------------------------------------
class _Config:
    def __init__(self, labels):
        self.num_labels = len(labels)
        self.id2label = dict(enumerate(labels))


def test_model_labels_are_checked_by_name(tickets):
    task = get_task({"dataset": str(tickets), "text_columns": ["subject", "body"], "label_column": "queue"})
    task.check_model_labels(_Config(["LABEL_0", "LABEL_1", "LABEL_2"]))  # generic: only the count counts
    task.check_model_labels(_Config(["account", "billing", "tech"]))
    with pytest.raises(TaskError, match=r"model labels \['neg', 'pos', 'neutral'\] do not match the labels of "
                                        r".*: \['account', 'billing', 'tech'\]"):
        task.check_model_labels(_Config(["neg", "pos", "neutral"]))
    with pytest.raises(TaskError, match="in another order.*--label-names tech,billing,account"):
        task.check_model_labels(_Config(["tech", "billing", "account"]))
    with pytest.raises(TaskError, match="model has 2 output label"):
        task.check_model_labels(_Config(["a", "b"]))


# -- bad data: one line naming the file and the problem ------------------------------------
def test_missing_column_lists_the_columns(tickets):
    with pytest.raises(DataError, match=r"tickets\.csv: no label column 'label'; columns: subject, body, queue "
                                        r"\(choose with --label-column\)"):
        get_task({"dataset": str(tickets), "text_columns": ["subject", "body"]})
    with pytest.raises(DataError, match=r"tickets\.csv: no column 'title'; columns: subject, body, queue"):
        get_task({"dataset": str(tickets), "text_columns": ["title"], "label_column": "queue"})


def test_empty_file_and_header_only_file(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match=r"empty\.csv: empty file$"):
        get_task({"dataset": str(tmp_path / "empty.csv")})
    write_csv(tmp_path / "header.csv", ["text", "label"], [])
    with pytest.raises(DataError, match=r"header\.csv: empty file \(no rows\)"):
        get_task({"dataset": str(tmp_path / "header.csv")})
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(DataError, match=r"empty\.jsonl: empty file"):
        get_task({"dataset": str(tmp_path / "empty.jsonl")})


def test_missing_file_and_unsupported_type(tmp_path):
    with pytest.raises(DataError, match=r"data/nope\.csv: no such file or folder"):
        get_task({"dataset": "data/nope.csv"})
    (tmp_path / "x.xlsx").write_text("x")
    with pytest.raises(DataError, match=r"x\.xlsx: unsupported data file type '\.xlsx'"):
        get_task({"dataset": str(tmp_path / "x.xlsx")})


def test_non_numeric_regression_label(tmp_path):
    rows = [{"text": SENT[i % 8], "score": v} for i, v in enumerate(["1.5", "2", "high", "0.5"])]
    path = write_jsonl(tmp_path / "scores.jsonl", rows)
    with pytest.raises(DataError, match=r"scores\.jsonl: regression needs a numeric label; column 'score' row 2 "
                                        r"holds 'high'"):
        get_task({"dataset": str(path), "kind": "regression", "label_column": "score"})


def test_class_in_validation_but_not_in_train(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    write_csv(folder / "train.csv", ["text", "label"], [(SENT[i % 8], ["neg", "pos"][i % 2]) for i in range(8)])
    write_csv(folder / "validation.csv", ["text", "label"], [("a", "neg"), ("b", "neutral"), ("c", "pos")])
    with pytest.raises(DataError, match=r"data \(split 'validation'\): class\(es\) \['neutral'\] present in "
                                        r"'validation' but not in the train split 'train'"):
        get_task({"dataset": str(folder)})


def test_missing_label_and_single_class(tmp_path):
    write_csv(tmp_path / "gap.csv", ["text", "label"], [("a", "x"), ("b", ""), ("c", "y")])
    with pytest.raises(DataError, match=r"gap\.csv: row 1 has no label in column 'label'"):
        get_task({"dataset": str(tmp_path / "gap.csv")})
    write_csv(tmp_path / "one.csv", ["text", "label"], [("a", "x"), ("b", "x")])
    with pytest.raises(DataError, match=r"one\.csv: one class only"):
        get_task({"dataset": str(tmp_path / "one.csv")})


# -- image folders ------------------------------------------------------------------------------
def image_folder(root, n_per_class=3, classes=("cat", "dog")):
    rng = np.random.default_rng(0)
    for c in classes:
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            (root / c / f"{i}.png").write_bytes(helpers.png_bytes(rng.integers(0, 255, (32, 32, 3))))
    return root


def test_image_folder_is_an_image_task(tmp_path):
    folder = image_folder(tmp_path / "photos")
    task = get_task({"dataset": str(folder), "kind": "image-classification"})
    assert isinstance(task, CustomImageTask) and task.modality == "image"
    assert task.label_names == ("cat", "dog") and task.image_column == "image"
    proc = task.load_preprocessor("")
    data = task.preprocess(task.load("train"), proc)
    batch = task.collator(proc)([data[i] for i in range(4)])
    assert batch["pixel_values"].shape == (4, 3, 32, 32)
    assert get_task({"dataset": str(folder)}).describe()["kind"] == "image-classification"  # inferred


def test_image_folder_of_other_sizes_is_resized_for_the_default_processor(tmp_path):
    from PIL import Image

    folder = image_folder(tmp_path / "photos")
    Image.new("RGB", (64, 48), "red").save(folder / "cat" / "big.jpg")
    task = get_task({"dataset": str(folder)})
    proc = task.load_preprocessor("")
    data = task.preprocess(task.load("train"), proc)
    batch = task.collator(proc)([data[i] for i in range(len(data))])
    assert batch["pixel_values"].shape == (7, 3, 32, 32)


def test_image_that_does_not_decode_fails_or_is_skipped(tmp_path):
    folder = image_folder(tmp_path / "photos")
    (folder / "dog" / "broken.png").write_bytes(b"not a png at all")
    task = get_task({"dataset": str(folder)})
    with pytest.raises(DataError, match=r"broken\.png: image does not decode .*--on-bad-image skip"):
        task.load("train")  # before any training or evaluation reads it
    task = get_task({"dataset": str(folder), "on_bad_image": "skip"})
    with pytest.warns(UserWarning, match=r"skipped 1 image\(s\) that do not decode \(first: .*broken\.png"):
        assert len(task.load("train")) == 6
    assert task.skipped_images == {"train": 1} and len(task.load("train", limit=3)) == 3


# -- records --------------------------------------------------------------------------------
def test_record_task_accepts_a_name_or_a_description(tickets):
    spec = get_task({"dataset": str(tickets), "text_columns": ["subject", "body"], "label_column": "queue"}).describe()
    record = CompressionRecord.from_dict({"base_model": "m", "task": spec})
    assert record.task == spec and CompressionRecord.from_dict({"task": "sst2"}).task == "sst2"
    with pytest.raises(ConfigError, match=r"CompressionRecord\.task"):
        CompressionRecord.from_dict({"task": 3})
    assert task_from_record(spec).label_names == ("account", "billing", "tech")
    assert task_from_record("sst2").name == "sst2"
    with pytest.raises(ConfigError, match=r"record\.task: unknown key 'colour'"):
        task_from_record({**spec, "colour": "red"})


def _model_for(tmp_path, task, name="model"):
    """A tiny BERT with ``task``'s head and a compression record naming the task, as `train` saves it."""
    import transformers

    folder = helpers.save_tiny_bert(tmp_path / name, num_labels=task.num_labels)
    config = transformers.AutoConfig.from_pretrained(folder)
    for key, value in task.label_maps().items():
        setattr(config, key, value)
    CompressionRecord(base_model="tiny", task=task.describe()).attach(config)
    config.save_pretrained(folder)
    return folder


def test_evaluate_finds_the_task_in_the_models_record(tickets, tmp_path, one_thread):
    task = get_task({"dataset": str(tickets), "text_columns": ["subject", "body"], "label_column": "queue",
                     "validation_split": 0.2, "metric": "f1_macro"})
    model = _model_for(tmp_path, task)
    assert resolve_eval_task(None, str(model)).describe() == task.describe()
    record = evaluate_model(EvalConfig(task=None, model=str(model), warmup=0, repeats=1, json=str(tmp_path / "e.json")))
    assert record["task"] == task.describe() and record["task_name"] == str(tickets)
    assert record["splits"] == ["validation"] and record["n_examples"] == 6
    assert set(record["metrics"]) == {"accuracy", "f1_macro"} and record["main_metric"] == "f1_macro"
    assert json.loads((tmp_path / "e.json").read_text())["task"]["label_column"] == "queue"
    # the same task given explicitly gives the same numbers
    again = evaluate_model(EvalConfig(task=task.describe(), model=str(model), warmup=0, repeats=1))
    assert again["metrics"] == record["metrics"]


def test_a_record_naming_a_custom_task_finds_its_description_in_the_stages(tickets, tmp_path):
    from hfcompress.evaluation.run import record_task

    spec = {"dataset": str(tickets), "text_columns": ["subject", "body"], "label_column": "queue"}
    record = CompressionRecord(base_model="m", task=str(tickets)).with_stage("finetune", {"task": spec, "epochs": 1})
    assert record_task(record) == spec
    assert record_task(CompressionRecord(task="sst2").with_stage("finetune", {"task": spec})) == "sst2"
    assert record_task(CompressionRecord(task="elsewhere")) == "elsewhere"


def test_evaluate_without_a_task_needs_a_record(tiny_bert_dir):
    with pytest.raises(TaskError, match="no task given .* has no hfcompress record"):
        resolve_eval_task(None, str(tiny_bert_dir))


def test_a_model_with_other_labels_is_refused_on_load(tickets, tmp_path):
    from hfcompress.hub.load import load

    task = get_task({"dataset": str(tickets), "text_columns": ["subject", "body"], "label_column": "queue"})
    other = get_task({"dataset": str(tickets), "text_columns": ["subject", "body"], "label_column": "queue",
                      "label_names": ["tech", "account", "billing"]})
    model = _model_for(tmp_path, other)
    with pytest.raises(TaskError, match="in another order"):
        load(str(model), task=task)
    assert task_key(other.describe()) == str(tickets)


# -- Hub ids (through the mirror) -----------------------------------------------------------
def test_hub_id_through_the_mirror_drops_an_unlabelled_test_split(tmp_path, monkeypatch):
    import datasets

    from hfcompress.tasks.data import MIRROR_ENV

    features = {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["sad", "joy", "fear"])}
    for split, labels in (("train", [0, 1, 2, 0, 1, 2]), ("validation", [2, 1, 0]), ("test", [-1, -1])):
        helpers.write_split(tmp_path, "me/emotion", None, split, {"text": SENT[:len(labels)], "label": labels}, features)
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path))
    task = get_task({"dataset": "me/emotion", "metric": "f1_macro"})
    assert task.label_names == ("sad", "joy", "fear") and task.eval_splits == ("validation",)
    assert task.describe()["dataset"] == "me/emotion" and task.hub_id == "me/emotion"
    with pytest.raises(DataError, match=r"me/emotion \(split 'test'\): row 0 has no label"):
        get_task({"dataset": "me/emotion", "eval_splits": ["test"]})
    with pytest.raises(DataError, match=r"dataset 'other/data' is not in the mirror .*no local file or folder"):
        get_task({"dataset": "other/data"})


def test_local_data_takes_no_hub_config(tickets):
    with pytest.raises(ConfigError, match=r"task\.config: 'sst2' is for Hub datasets"):
        get_task({"dataset": str(tickets), "config": "sst2"})


def test_folder_with_two_kinds_of_data_file(tmp_path):
    write_csv(tmp_path / "train.csv", ["text", "label"], [("a", 0), ("b", 1)])
    write_jsonl(tmp_path / "test.jsonl", [{"text": "a", "label": 0}])
    with pytest.raises(DataError, match=r"data files of several types \(\.csv, \.jsonl\)"):
        get_task({"dataset": str(tmp_path)})

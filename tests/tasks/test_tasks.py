import numpy as np
import pytest
import torch

from hfcompress.errors import DataError, TaskError
from hfcompress.tasks import TASKS, get_task
from hfcompress.tasks.data import MIRROR_ENV, mirror_files
from tests import helpers

GLUE = ["cola", "sst2", "mrpc", "qqp", "stsb", "mnli", "qnli", "rte", "wnli"]


def test_unknown_task_names_the_known_ones():
    with pytest.raises(TaskError, match="unknown task 'sst3'; known tasks: .*sst2"):
        get_task("sst3")


def test_all_glue_tasks_and_cifar10_are_registered():
    assert set(GLUE + ["cifar10", "rotten_tomatoes"]) <= set(TASKS)
    assert get_task("stsb").is_regression and get_task("stsb").num_labels == 1
    assert get_task("mnli").eval_splits == ("validation_matched", "validation_mismatched")
    assert get_task("cifar10").num_labels == 10 and get_task("cifar10").eval_splits == ("test",)


@pytest.mark.parametrize("name", GLUE)
def test_glue_task_loads_preprocesses_and_collates(name, use_fixture_mirror, tmp_path):
    task = get_task(name)
    tok = helpers.make_tokenizer(tmp_path / "tok")
    for split in task.splits:
        raw = task.load(split, limit=8)
        assert len(raw) == 8
        data = task.preprocess(raw, tok, max_length=32)
        batch = task.collator(tok)([data[i] for i in range(4)])
        assert batch["input_ids"].shape[0] == 4 and batch["input_ids"].shape[1] <= 32
        assert batch["labels"].dtype == (torch.float32 if task.is_regression else torch.int64)


def test_pair_tasks_tokenize_both_sentences(use_fixture_mirror, tmp_path):
    tok = helpers.make_tokenizer(tmp_path / "tok")
    task = get_task("mrpc")
    data = task.preprocess(task.load("train", limit=2), tok)
    assert data[0]["input_ids"].count(tok.sep_token_id) == 2


def test_image_task_decodes_normalises_and_augments(use_fixture_mirror):
    task = get_task("cifar10")
    proc = task.load_preprocessor("")
    raw = task.load("train", limit=6)
    plain = task.preprocess(raw, proc, train=False)
    batch = task.collator(proc)([plain[i] for i in range(6)])
    assert batch["pixel_values"].shape == (6, 3, 32, 32) and batch["labels"].shape == (6,)
    assert abs(float(batch["pixel_values"].mean())) < 1.0  # normalised, not 0..255
    augmented = task.preprocess(raw, proc, train=True)
    assert augmented[0]["pixel_values"].shape == (3, 32, 32)


def test_limit_takes_a_fixed_seeded_sample(use_fixture_mirror):
    task = get_task("cifar10")
    a, b = task.load("test", limit=5)["label"], task.load("test", limit=5)["label"]
    assert a == b


def test_missing_split_and_missing_dataset(use_fixture_mirror, tmp_path):
    with pytest.raises(TaskError, match="task 'sst2' has no split 'test'"):
        get_task("sst2").load("test")
    with pytest.raises(DataError, match="not in the mirror"):
        mirror_files(tmp_path, "nyu-mll/glue", "sst2", "train")


def test_mirror_root_must_exist(monkeypatch, tmp_path):
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match=f"{MIRROR_ENV}: dataset mirror folder not found"):
        get_task("sst2").load("train")


def test_unreadable_data_file_names_the_file(tmp_path, monkeypatch):
    bad = tmp_path / "nyu-mll/glue/rte"
    bad.mkdir(parents=True)
    (bad / "train-00000-of-00001.parquet").write_bytes(b"this is not parquet")
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path))
    with pytest.raises(DataError, match="cannot read data file.*train-00000-of-00001.parquet"):
        get_task("rte").load("train")


def test_wrong_schema_names_the_missing_column(tmp_path, monkeypatch):
    import datasets

    helpers.write_split(tmp_path, "nyu-mll/glue", "sst2", "train", {"text": ["a"], "label": [0]},
                        {"text": datasets.Value("string"), "label": datasets.Value("int64")})
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path))
    with pytest.raises(TaskError, match=r"lacks column\(s\) \['sentence'\]"):
        get_task("sst2").load("train")


@pytest.mark.integration
def test_real_mirror_sst2_and_cifar10(real_mirror):
    sst2 = get_task("sst2").load("validation")
    assert len(sst2) == 872 and set(sst2["label"]) == {0, 1}
    cifar = get_task("cifar10").load("test", limit=200)
    labels = np.array(cifar["label"])
    assert len(set(labels.tolist())) >= 8  # a sample, not the first (sorted) rows

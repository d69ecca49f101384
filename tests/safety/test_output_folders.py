"""Issue 17, class 1: output folders never lose or mix a model."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from pathlib import Path

import pytest

import hfcompress
from hfcompress.hub import CompressionRecord, save_compressed
from hfcompress.hub.save import OutputDirError, atomic_directory, check_output_dir, clean_stale_partials
from tests import helpers
from tests.safety.util import copy_model, fails_in_one_line, snapshot


# ---- output == input ------------------------------------------------------------------------
def test_prune_output_equal_to_input_is_refused_before_work(tiny_bert_dir, tmp_path, use_fixture_mirror, capsys):
    model = copy_model(tiny_bert_dir, tmp_path / "m")
    before = snapshot(model)
    fails_in_one_line(["prune", "--task", "sst2", "--model", str(model), "--output-dir", str(model),
                       "--method", "heads", "--amount", "0.5", "--importance", "magnitude"], capsys,
                      "is the input model folder")
    assert snapshot(model) == before and not list(tmp_path.glob(".m.*"))


def test_output_containing_the_input_is_refused(tiny_bert_dir, tmp_path, use_fixture_mirror, capsys):
    model = copy_model(tiny_bert_dir, tmp_path / "out" / "m")
    before = snapshot(tmp_path / "out")
    fails_in_one_line(["prune", "--task", "sst2", "--model", str(model), "--output-dir", str(tmp_path / "out"),
                       "--method", "heads", "--amount", "0.5", "--importance", "magnitude"], capsys,
                      "contains the input model folder")
    assert snapshot(tmp_path / "out") == before


def test_train_output_equal_to_input_is_refused(tiny_bert_dir, tmp_path, use_fixture_mirror, capsys):
    model = copy_model(tiny_bert_dir, tmp_path / "m")
    before = snapshot(model)
    fails_in_one_line(["train", "--task", "sst2", "--model", str(model), "--output-dir", str(model) + "/",
                       "--epochs", "1"], capsys, "is the input model folder")
    assert snapshot(model) == before


# ---- non-empty output folders ---------------------------------------------------------------
def _other_model(folder: Path) -> Path:
    save_compressed(helpers.tiny_resnet(), folder, CompressionRecord(task="cifar10"))
    return folder


def test_check_output_dir_refuses_a_folder_holding_another_model(tmp_path, tiny_bert_dir):
    out = _other_model(tmp_path / "out")
    before = snapshot(out)
    with pytest.raises(OutputDirError, match="is not empty .*pass --overwrite"):
        check_output_dir(out, inputs=[tiny_bert_dir])
    assert check_output_dir(out, inputs=[tiny_bert_dir], overwrite=True) == out
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)  # a Trainer run's own folder: accepted
    check_output_dir(tmp_path / "run", inputs=[tiny_bert_dir])
    assert snapshot(out) == before


def test_publish_with_overwrite_false_refuses_a_folder_another_writer_filled(tmp_path):
    out = _other_model(tmp_path / "out")
    before = snapshot(out)
    with pytest.raises(OutputDirError, match="is not empty"):
        save_compressed(helpers.tiny_resnet(seed=1), out, CompressionRecord(), overwrite=False)
    assert snapshot(out) == before and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_prune_into_a_folder_holding_another_model_is_refused(tiny_bert_dir, tmp_path, use_fixture_mirror, capsys):
    out = _other_model(tmp_path / "out")
    before = snapshot(out, tiny_bert_dir)
    fails_in_one_line(["prune", "--task", "sst2", "--model", str(tiny_bert_dir), "--output-dir", str(out),
                       "--method", "heads", "--amount", "0.5", "--importance", "magnitude", "--eval-limit", "0"],
                      capsys, "not empty")
    assert snapshot(out, tiny_bert_dir) == before


def test_train_into_a_folder_holding_another_model_is_refused(tiny_bert_dir, tmp_path, use_fixture_mirror, capsys):
    out = _other_model(tmp_path / "out")
    before = snapshot(out, tiny_bert_dir)
    fails_in_one_line(["train", "--task", "sst2", "--model", str(tiny_bert_dir), "--output-dir", str(out),
                       "--epochs", "1", "--max-train-samples", "4"], capsys, "not empty")
    assert snapshot(out, tiny_bert_dir) == before


# ---- nothing of the previous model survives -------------------------------------------------
def test_replacing_a_model_leaves_nothing_of_the_old_one(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.onnx").write_bytes(b"old graph")  # would be picked first by the loader
    (out / "config.json").write_text(json.dumps({"old": True}))
    (out / "stray.txt").write_text("old")
    (out / "checkpoints").mkdir()  # a Trainer run's checkpoints are carried over
    (out / "checkpoints" / "c").write_text("ckpt")
    save_compressed(helpers.tiny_resnet(), out, CompressionRecord(task="cifar10"), overwrite=True)
    names = sorted(p.name for p in out.iterdir())
    assert "model.onnx" not in names and "stray.txt" not in names and "checkpoints" in names
    assert (out / "checkpoints" / "c").read_text() == "ckpt"
    assert hfcompress.load(out).loader == "pytorch"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_folder_of_folders_is_never_replaced_by_default(tmp_path):
    out = tmp_path / "out"
    _other_model(out / "teacher")  # e.g. a report written with --out out/
    before = snapshot(out)
    with pytest.raises(OutputDirError, match="holds other folders .*teacher/"):
        with atomic_directory(out) as tmp:
            (tmp / "report.md").write_text("# report")
    assert snapshot(out) == before


# ---- two writers ----------------------------------------------------------------------------
def test_two_writers_never_mix_their_files(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "config.json").write_text("{}")
    barrier = threading.Barrier(2)
    errors = []

    def writer(tag: str):
        try:
            with atomic_directory(out) as tmp:
                (tmp / "model.safetensors").write_text(tag)
                barrier.wait()  # both have written their files; now both publish at once
                time.sleep(0.01)
                (tmp / "config.json").write_text(tag)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in ("A", "B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert (out / "config.json").read_text() == (out / "model.safetensors").read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_second_writer_with_overwrite_false_fails_instead_of_mixing(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(OutputDirError, match="another run wrote there"):
        with atomic_directory(out, overwrite=False) as second:  # started while the folder was free ...
            (second / "model.safetensors").write_text("B")
            with atomic_directory(out, overwrite=False) as first:  # ... but another writer publishes first
                (first / "model.safetensors").write_text("A")
                (first / "config.json").write_text("A")
            (second / "config.json").write_text("B")
    assert (out / "config.json").read_text() == (out / "model.safetensors").read_text() == "A"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


# ---- the output path itself -----------------------------------------------------------------
def test_distill_output_equal_to_teacher_is_refused(tiny_bert_dir, tmp_path, capsys):
    teacher = copy_model(tiny_bert_dir, tmp_path / "t")
    before = snapshot(teacher)
    fails_in_one_line(["distill", "--task", "sst2", "--teacher", str(teacher), "--output-dir", str(teacher),
                       "--epochs", "1"], capsys, "is the input model folder")
    assert snapshot(teacher) == before


@pytest.mark.parametrize("command", ["train", "prune"])
def test_output_path_that_is_a_file_is_refused_before_work(tiny_bert_dir, tmp_path, capsys, command):
    target = tmp_path / "out"
    target.write_text("my notes")
    extra = ["--method", "heads", "--amount", "0.5"] if command == "prune" else ["--epochs", "1"]
    # no dataset mirror: the refusal must come before any data is read
    fails_in_one_line([command, "--task", "sst2", "--model", str(tiny_bert_dir), "--output-dir", str(target / "sub"),
                       *extra], capsys, "lies under the existing file")
    assert target.read_text() == "my notes"


def test_output_path_that_is_a_file_is_refused_in_one_line(tiny_bert_dir, tmp_path, use_fixture_mirror, capsys):
    target = tmp_path / "out"
    target.write_text("my notes")
    before = snapshot(target, tiny_bert_dir)
    with pytest.raises(OutputDirError, match="is an existing file"):
        check_output_dir(target)
    fails_in_one_line(["prune", "--task", "sst2", "--model", str(tiny_bert_dir), "--output-dir", str(target),
                       "--method", "heads", "--amount", "0.5", "--importance", "magnitude", "--eval-limit", "0"],
                      capsys, "is an existing file")
    assert snapshot(target, tiny_bert_dir) == before
    assert not list(tmp_path.glob(".out.*"))


def test_stale_partials_are_cleaned_and_folders_get_normal_modes(tmp_path):
    dead = tmp_path / ".out.partial-999999999-abc"  # a pid that does not exist
    dead.mkdir()
    (dead / "model.safetensors").write_text("half")
    alive = tmp_path / f".out.partial-{os.getpid()}-xyz"  # this process: another save in progress
    alive.mkdir()
    save_compressed(helpers.tiny_resnet(), tmp_path / "out", CompressionRecord())
    assert not dead.exists() and alive.exists()
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o777 & ~mask
    alive.rmdir()
    assert clean_stale_partials(tmp_path / "out") == []

"""Issue 17, class 2: no pickle on any path that reads weights, training inputs included.

Each test gives a command a folder whose only weights are a pickle that would create a file when
unpickled; the command must refuse in one line, and the file must not exist afterwards.
"""

from __future__ import annotations

import pytest

from tests.distill.util import save_tiny_teacher
from tests.safety.util import fails_in_one_line, pickle_only_model, snapshot


@pytest.fixture
def payload(tiny_bert_dir, tmp_path):
    marker = tmp_path / "PWNED"
    folder = pickle_only_model(tmp_path / "evil", tiny_bert_dir, marker)
    return folder, marker


def _check(folder, marker, before):
    assert not marker.exists(), "the pickle was loaded"
    assert snapshot(folder) == before


def test_train_refuses_a_pickle_only_model(payload, tmp_path, use_fixture_mirror, capsys):
    folder, marker = payload
    before = snapshot(folder)
    fails_in_one_line(["train", "--task", "sst2", "--model", str(folder), "--output-dir", str(tmp_path / "o"),
                       "--epochs", "1", "--max-train-samples", "4"], capsys, "no .safetensors weights")
    _check(folder, marker, before)
    assert not (tmp_path / "o").exists()


def test_distill_student_of_kind_model_refuses_a_pickle(payload, tmp_path, use_fixture_mirror, capsys):
    folder, marker = payload
    teacher = save_tiny_teacher(tmp_path / "teacher")
    recipe = tmp_path / "d.yaml"
    recipe.write_text(f"distill: {{task: sst2, teacher: {teacher}, output_dir: {tmp_path / 'o'}, epochs: 1, "
                      f"max_train_samples: 4, student: {{kind: model, model: {folder}}}}}\n")
    before = snapshot(folder)
    fails_in_one_line(["distill", "--recipe", str(recipe)], capsys, "no .safetensors weights")
    _check(folder, marker, before)


def test_distill_teacher_refuses_a_pickle(payload, tmp_path, use_fixture_mirror, capsys):
    folder, marker = payload
    before = snapshot(folder)
    recipe = tmp_path / "d.yaml"
    recipe.write_text(f"distill: {{task: sst2, teacher: {folder}, output_dir: {tmp_path / 'o'}, epochs: 1, "
                      "student: {kind: layers, every_k: 2}}\n")
    fails_in_one_line(["distill", "--recipe", str(recipe)], capsys, "safetensors")
    _check(folder, marker, before)


def test_evaluate_refuses_a_pickle(payload, use_fixture_mirror, capsys):
    folder, marker = payload
    before = snapshot(folder)
    fails_in_one_line(["evaluate", "--task", "sst2", "--model", str(folder), "--limit", "4"], capsys, "safetensors")
    _check(folder, marker, before)


def test_prune_refuses_a_pickle(payload, tmp_path, use_fixture_mirror, capsys):
    folder, marker = payload
    before = snapshot(folder)
    fails_in_one_line(["prune", "--task", "sst2", "--model", str(folder), "--output-dir", str(tmp_path / "o"),
                       "--method", "heads", "--amount", "0.5", "--importance", "magnitude"], capsys, "safetensors")
    _check(folder, marker, before)


def test_quantize_refuses_a_pickle(payload, tmp_path, use_fixture_mirror, capsys):
    folder, marker = payload
    before = snapshot(folder)
    fails_in_one_line(["quantize", "--task", "sst2", "--model", str(folder), "--output-dir", str(tmp_path / "o"),
                       "--method", "torch-dynamic"], capsys, "safetensors")
    _check(folder, marker, before)


def test_library_build_model_refuses_a_pickle(payload):
    from hfcompress.errors import ModelLoadError
    from hfcompress.tasks import get_task
    from hfcompress.training.train import build_model

    folder, marker = payload
    with pytest.raises(ModelLoadError, match="pytorch_model.bin: pickle"):
        build_model(str(folder), get_task("sst2"))
    assert not marker.exists()

"""Corruptions are deterministic for a seed, change the data, and plug into evaluation."""

import numpy as np
import pytest

from hfcompress.cli.main import EXIT_USER_ERROR, main
from hfcompress.errors import ConfigError
from hfcompress.evaluation.robustness import IMAGE_CORRUPTIONS, char_noise, corrupt, parse_corruption
from hfcompress.tasks import get_task
from hfcompress.tasks.vision import to_pil


@pytest.mark.parametrize("name", sorted(IMAGE_CORRUPTIONS))
def test_image_corruptions_are_deterministic_and_change_pixels(name, use_fixture_mirror):
    task = get_task("cifar10")
    raw = task.load("test", limit=4)
    a, b = corrupt(raw, task, f"{name}:5"), corrupt(raw, task, f"{name}:5")
    for i in range(4):
        pa, pb = np.asarray(to_pil(a[i]["img"])), np.asarray(to_pil(b[i]["img"]))
        assert np.array_equal(pa, pb), "same seed, same corruption"
        assert pa.shape == (32, 32, 3)
    original = np.stack([np.asarray(to_pil(raw[i]["img"]), dtype=float) for i in range(4)])
    shifted = np.stack([np.asarray(to_pil(a[i]["img"]), dtype=float) for i in range(4)])
    assert np.abs(original - shifted).mean() > 1.0


def test_char_noise_is_deterministic_and_grows_with_severity():
    text = "the acting was great and the story was really fun to watch " * 3
    rng = lambda: np.random.default_rng(7)  # noqa: E731
    assert char_noise(text, 3, rng()) == char_noise(text, 3, rng())
    changed = [sum(x != y for x, y in zip(text, char_noise(text, s, rng()))) for s in (1, 5)]
    assert 0 < changed[0] < changed[1]


def test_text_corruption_on_a_task(use_fixture_mirror):
    task = get_task("mrpc")
    raw = task.load("validation", limit=6)
    shifted = corrupt(raw, task, "char_noise:5", seed=1)
    assert shifted["sentence1"] != raw["sentence1"] and shifted["label"] == raw["label"]


@pytest.mark.parametrize("spec, modality, message", [
    ("char_noise:3", "image", "does not apply to image tasks"),
    ("gaussian_noise:6", "image", "severity must be 1-5"),
    ("jpeg:x", "image", "must be an integer"),
    ("blur", "text", "does not apply to text tasks"),
])
def test_bad_corruptions(spec, modality, message):
    with pytest.raises(ConfigError, match=message):
        parse_corruption(spec, modality)


def test_evaluate_under_corruption(tiny_bert_dir, tmp_path, use_fixture_mirror, capsys):
    import json

    out = tmp_path / "e.json"
    assert main(["evaluate", "--task", "sst2", "--model", str(tiny_bert_dir), "--corruption", "char_noise:2",
                 "--repeats", "2", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["corruption"] == "char_noise:2"
    assert main(["evaluate", "--task", "sst2", "--model", str(tiny_bert_dir), "--corruption", "jpeg"]) == EXIT_USER_ERROR

"""Issue 17, class 4: numbers and amounts mean what they say."""

from __future__ import annotations

import pytest
import torch

from hfcompress.cli.main import build_parser
from hfcompress.config import TrainConfig, load_recipe
from hfcompress.config.base import coerce_number
from hfcompress.errors import ConfigError
from hfcompress.prune import PruneConfig
from hfcompress.prune.config import PruneError
from tests import helpers
from tests.safety.util import fails_in_one_line, snapshot


def _prune(model, out, *extra):
    return ["prune", "--task", "sst2", "--model", str(model), "--output-dir", str(out), "--method", "heads",
            "--importance", "magnitude", "--eval-limit", "0", *extra]


# ---- removing every attention head ------------------------------------------------------------
@pytest.mark.parametrize("extra", [["--amount", "1.0"], ["--count", "8"]], ids=["amount", "count"])
def test_removing_every_head_is_refused(tiny_bert_dir, tmp_path, use_fixture_mirror, capsys, extra):
    before = snapshot(tiny_bert_dir)
    fails_in_one_line(_prune(tiny_bert_dir, tmp_path / "o", *extra), capsys, "removes every attention head")
    assert snapshot(tiny_bert_dir) == before and not (tmp_path / "o").exists()


def test_removing_every_head_by_index_is_refused():
    from hfcompress.prune.heads import heads_to_remove

    with pytest.raises(PruneError, match="removes every attention head"):
        heads_to_remove([2, 2], layers={0: [0, 1], 1: [0, 1]})
    assert heads_to_remove([2, 2], layers={0: [0, 1]}) == [[0, 1], []]  # one layer without heads: fine


# ---- channel amount: monotone, and refused when it removes nothing -------------------------------
def _channels(amount):
    from hfcompress.prune import structured as S

    torch.manual_seed(0)
    return S.prune_channels(helpers.tiny_resnet(), {"pixel_values": torch.randn(1, 3, 32, 32)}, amount=amount)


@pytest.mark.slow
def test_channel_amount_is_monotone_up_to_one_channel_per_layer():
    pytest.importorskip("torch_pruning")
    reductions = [_channels(a)["mac_reduction"] for a in (0.3, 0.5, 0.7, 0.9, 0.999)]
    assert reductions == sorted(reductions), reductions
    assert reductions[-1] > 5  # 0.999: every layer down to one channel, not "nothing removed"


def test_channel_amount_always_removes_something_and_one_is_refused():
    pytest.importorskip("torch_pruning")
    assert _channels(0.01)["mac_reduction"] > 1  # kept = floor(n * (1 - amount)): one channel per layer goes
    with pytest.raises(PruneError, match="must be in \\[0, 1\\)"):
        _channels(1.0)
    with pytest.raises(ConfigError, match="prune.amount: must be in"):
        PruneConfig(task="cifar10", model="m", output_dir="o", method="channels", amount=1.0).validate("prune")


# ---- non-finite numbers and absurd budgets ----------------------------------------------------
@pytest.mark.parametrize("flag, value, field", [
    ("--mac-reduction", "nan", "mac_reduction"),
    ("--mac-reduction", "inf", "mac_reduction"),
    ("--amount", "nan", "amount"),
    ("--finetune-epochs", "inf", "finetune_epochs"),
    ("--lr", "nan", "learning_rate"),
])
def test_prune_refuses_non_finite_numbers(tmp_path, use_fixture_mirror, capsys, flag, value, field):
    method = "channels" if field == "mac_reduction" else "heads"
    extra = [] if field in ("amount", "mac_reduction") else ["--amount", "0.5"]
    line = fails_in_one_line(["prune", "--task", "cifar10", "--model", "m", "--output-dir", str(tmp_path / "o"),
                              "--method", method, flag, value, *extra], capsys, "finite")
    assert field in line


@pytest.mark.parametrize("flag, value, field", [
    ("--epochs", "nan", "epochs"), ("--epochs", "inf", "epochs"), ("--lr", "nan", "learning_rate"),
    ("--epochs", "1e9", "epochs"),
])
def test_train_refuses_non_finite_and_absurd_numbers(tiny_bert_dir, tmp_path, use_fixture_mirror, capsys,
                                                      flag, value, field):
    line = fails_in_one_line(["train", "--task", "sst2", "--model", str(tiny_bert_dir), "--output-dir",
                              str(tmp_path / "o"), flag, value], capsys, field)
    assert "finite" in line or "at most 1000" in line
    assert not (tmp_path / "o").exists()


def test_distill_refuses_non_finite_numbers(tmp_path, capsys):
    fails_in_one_line(["distill", "--task", "sst2", "--teacher", "t", "--output-dir", str(tmp_path / "o"),
                       "--temperature", "nan"], capsys, "temperature: expected a finite number")


def test_recipe_nan_is_refused_naming_the_field(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("train: {task: sst2, model: m, output_dir: o, learning_rate: .nan}\n")
    with pytest.raises(ConfigError, match=r"train.learning_rate: expected a finite number"):
        load_recipe(recipe)


# ---- numeric strings (YAML reads 1e-4 as a string) ---------------------------------------------
def test_yaml_exponent_without_a_dot_is_a_number(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("train: {task: sst2, model: m, output_dir: o, learning_rate: 1e-4, epochs: '2', "
                      "batch_size: 1e1}\n")
    cfg = load_recipe(recipe).train
    assert cfg.learning_rate == 1e-4 and cfg.epochs == 2.0 and cfg.batch_size == 10
    with pytest.raises(ConfigError, match="batch_size: expected an integer, got '3.5'"):
        TrainConfig.from_dict({"task": "sst2", "model": "m", "output_dir": "o", "batch_size": "3.5"})
    with pytest.raises(ConfigError, match="expected a number, got 'fast'"):
        TrainConfig.from_dict({"task": "sst2", "model": "m", "output_dir": "o", "learning_rate": "fast"})


def test_coerce_number_for_sweep_axes():
    assert [coerce_number(v, "x") for v in ["1e-4", "3e-4", 2, "3"]] == [1e-4, 3e-4, 2, 3]
    with pytest.raises(ConfigError, match="x: expected a finite number"):
        coerce_number("nan", "x")


def test_readme_sweep_example_expands(tmp_path):
    from hfcompress.sweep.grid import load_sweep

    recipe = tmp_path / "sweep.yaml"
    recipe.write_text("train: {task: sst2, model: m, output_dir: unused, learning_rate: [1e-4, 3e-4], epochs: [1, 2]}\n"
                      "evaluate: {task: sst2, model: unused, limit: 500}\n")
    name, points, _ = load_sweep(recipe)
    assert name == "train" and sorted(p.config.learning_rate for p in points) == [1e-4, 1e-4, 3e-4, 3e-4]


# ---- options are matched exactly ---------------------------------------------------------------
@pytest.mark.parametrize("argv", [
    ["prune", "--task", "sst2", "--model", "m", "--output-dir", "o", "--method", "channels", "--mac", "2"],
    ["train", "--task", "sst2", "--model", "m", "--output", "o"],
    ["evaluate", "--task", "sst2", "--mod", "m"],
])
def test_option_prefixes_are_not_matched(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(argv)
    assert exc.value.code == 2
    assert "unrecognized arguments" in capsys.readouterr().err


def test_main_parser_matches_exactly(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--vers"])
    assert "unrecognized" in capsys.readouterr().err or True
    assert build_parser().allow_abbrev is False

"""Budgets of ``hfcompress compress`` are checked before anything runs; a bad one names its field."""

import re

import pytest

from hfcompress.cli.main import main
from hfcompress.config import load_recipe
from hfcompress.errors import ConfigError
from hfcompress.search import CompressConfig, parse_duration

BASE = {"task": "sst2", "model": "some/model", "output_dir": "out/x", "max_drop": 1.0, "target_speedup": 2}


def build(**changes):
    data = {**BASE, **changes}
    return CompressConfig.from_dict({k: v for k, v in data.items() if v is not None})


@pytest.mark.parametrize("text,seconds", [("2h", 7200), ("30m", 1800), ("90s", 90), ("1.5h", 5400), (45, 45),
                                          ("120", 120), ("10 min", 600)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("changes,field", [
    ({"max_drop": -1}, "max_drop"),
    ({"target_speedup": -2}, "target_speedup"),
    ({"target_speedup": 0.5}, "target_speedup"),
    ({"max_latency_ms": 5}, "max_latency_ms"),  # contradicts target_speedup
    ({"target_speedup": None}, "target_speedup"),  # no target at all
    ({"max_size_mb": 0}, "max_size_mb"),
    ({"time_budget": "2 weeks"}, "time_budget"),  # unknown unit
    ({"time_budget": "-30m"}, "time_budget"),
    ({"time_budget": 0}, "time_budget"),
    ({"methods": ["quantise"]}, "methods[0]"),
    ({"methods": ["quantize"], "never": ["quantize"]}, "never"),
    ({"batch_size": 0}, "batch_size"),
    ({"finetune": {"epochs": -1}}, "finetune.epochs"),
])
def test_bad_budgets_name_their_field(changes, field):
    with pytest.raises(ConfigError, match=rf"\.{re.escape(field)}(?!\w)"):
        build(**changes)


def test_names_from_the_registry():
    cfg = build(methods=["distill", "Quantize"], never=["bnb", "heads"])
    assert cfg.methods == ["distill", "quantize"] and cfg.never == ["bnb", "heads"]


def test_cli_refuses_before_anything_runs(tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["compress", "--task", "sst2", "--model", str(tmp_path / "missing"), "--output-dir", str(out),
               "--max-drop", "1", "--target-speedup", "4", "--max-latency-ms", "5"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "max_latency_ms" in err[0] and "contradicts" in err[0]
    assert not out.exists()
    rc = main(["compress", "--task", "sst2", "--model", "m", "--output-dir", str(out), "--max-size-mb", "15",
               "--time-budget", "3fortnights"])
    err = capsys.readouterr().err
    assert rc == 2 and "time_budget" in err and "unknown unit" in err and not out.exists()


def test_recipe_section(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("compress:\n  task: sst2\n  model: m\n  output_dir: out/s\n  max_drop: 1\n"
                      "  max_size_mb: 15\n  time_budget: 30m\n  never: [bnb]\n")
    cfg = load_recipe(recipe).compress
    assert isinstance(cfg, CompressConfig) and cfg.time_budget_s == 1800 and cfg.max_size_mb == 15
    recipe.write_text("compress:\n  task: sst2\n  model: m\n  output_dir: out/s\n  max_drop: -1\n  max_size_mb: 1\n")
    with pytest.raises(ConfigError, match="compress.max_drop"):
        load_recipe(recipe)

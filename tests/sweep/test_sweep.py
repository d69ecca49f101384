"""A 2x2 sweep on tiny models: four records and a summary; a re-run skips finished points."""

import json

import pytest

from hfcompress.cli.main import EXIT_USER_ERROR, main
from hfcompress.errors import ConfigError
from hfcompress.sweep import load_sweep, run_sweep
from hfcompress.training import train


def recipe(tmp_path, model, body=None):
    path = tmp_path / "sweep.yaml"
    path.write_text(body or f"""
train:
  task: sst2
  model: {model}
  output_dir: ignored
  learning_rate: [0.001, 0.003]
  epochs: [1, 2]
  batch_size: 8
  max_train_samples: 16
  max_eval_samples: 8
  save_steps: 1000
evaluate: {{task: sst2, model: ignored, limit: 8, repeats: 2, batch_size: 8}}
""")
    return path


def test_grid_expands_and_validates(tmp_path, tiny_bert_dir):
    section, points, others = load_sweep(recipe(tmp_path, tiny_bert_dir))
    assert section == "train" and len(points) == 4 and "evaluate" in others
    assert {(p.values["learning_rate"], p.values["epochs"]) for p in points} == {
        (0.001, 1), (0.001, 2), (0.003, 1), (0.003, 2)}
    assert points[0].config.learning_rate == 0.001 and points[0].name == "learning_rate=0.001_epochs=1"


def test_list_valued_fields_are_values_not_sweeps(tmp_path):
    body = ("prune: {task: sst2, model: m, output_dir: o, method: drop_layers, drop: [1, 3]}\n"
            "evaluate: {task: sst2, model: ignored}\n")
    section, points, _ = load_sweep(recipe(tmp_path, "m", body))
    assert section == "prune" and len(points) == 1 and points[0].config.drop == [1, 3]
    body = "prune: {task: sst2, model: m, output_dir: o, method: drop_layers, count: [1, 2]}\n"
    assert [p.config.count for p in load_sweep(recipe(tmp_path, "m", body))[1]] == [1, 2]


class Crash(Exception):
    pass


def test_sweep_runs_every_point_then_resumes(tmp_path, tiny_bert_dir, use_fixture_mirror):
    path = recipe(tmp_path, tiny_bert_dir)
    calls = []

    def crashing(cfg):
        if len(calls) == 2:
            raise Crash("killed during point 3")
        calls.append(cfg.output_dir)
        return train(cfg)

    with pytest.raises(Crash):
        run_sweep(path, tmp_path / "out", runner=crashing)
    assert len(list((tmp_path / "out" / "records").glob("*.json"))) == 2

    calls.clear()
    summary = run_sweep(path, tmp_path / "out", runner=lambda cfg: calls.append(cfg.output_dir) or train(cfg))
    assert len(calls) == 2, "the two finished points are not run again"
    records = sorted((tmp_path / "out" / "records").glob("*.json"))
    assert len(records) == 4 and len(summary["points"]) == 4
    rec = json.loads(records[0].read_text())
    assert rec["label"] == records[0].stem and set(rec["sweep"]) == {"learning_rate", "epochs"}
    assert "**best**" in (tmp_path / "out" / "summary.md").read_text()


@pytest.mark.parametrize("line, message", [
    ("learning_rate: []", "train.learning_rate: empty sweep list"),
    ("learning_rate: [0.1, fast]", "expected a number, got 'fast'"),
    ("task: [sst2, cola]", "train.task: cannot be swept"),
    ("learning_rat: [0.1, 0.2]", "unknown key 'learning_rat'"),
    ("learning_rate: [0.1, -1]", "learning_rate: must be > 0"),
])
def test_invalid_sweeps_fail_before_running(tmp_path, line, message):
    body = f"train:\n  task: sst2\n  model: m\n  output_dir: o\n  {line}\n"
    with pytest.raises(ConfigError, match=message):
        load_sweep(recipe(tmp_path, "m", body))


def test_cli_reports_invalid_sweep_in_one_line(tmp_path, capsys):
    path = recipe(tmp_path, "m", "train:\n  task: sst2\n  model: m\n  output_dir: o\n  epochs: []\n")
    assert main(["sweep", "--recipe", str(path), "--output-dir", str(tmp_path / "o")]) == EXIT_USER_ERROR
    assert "empty sweep list" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_shipped_sweep_recipes_expand_to_valid_grids():
    from pathlib import Path

    from hfcompress.sweep.grid import load_sweep

    recipes = sorted((Path(__file__).resolve().parents[2] / "recipes" / "sweeps").glob("*.yaml"))
    assert len(recipes) >= 2
    for path in recipes:
        section, points, _ = load_sweep(path)
        assert section == "distill" and len(points) == 12
        assert {p.values["temperature"] for p in points} == {1, 2, 4, 8}
        for p in points:  # alpha became the soft and hard weights of every point
            weights = {l.name: l.weight for l in p.config.losses}
            assert weights["logits"] == p.values["alpha"] and abs(weights["ce"] - (1 - p.values["alpha"])) < 1e-9

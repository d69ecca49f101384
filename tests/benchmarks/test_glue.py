"""benchmarks/glue.py: every GLUE recipe validates, and a tiny-budget run writes a complete table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hfcompress.config import load_recipe
from hfcompress.distill.config import DistillConfig
from hfcompress.pipeline.run import PipelineConfig

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted((ROOT / "recipes" / "glue").glob("*.yaml"))
GLUE_TASKS = ("cola", "mnli", "mrpc", "qnli", "qqp", "rte", "sst2", "stsb", "wnli")


def test_there_is_one_recipe_per_glue_task():
    assert sorted(p.stem for p in RECIPES) == sorted(GLUE_TASKS)


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_glue_recipe_validates(path):
    recipe = load_recipe(path)
    task = path.stem
    # the three things benchmarks/glue.py reads: teacher, narrow student, headline pipeline
    assert recipe.train.task == recipe.distill.task == recipe.pipeline.task == task
    assert recipe.distill.teacher == recipe.pipeline.model == recipe.train.output_dir
    assert recipe.distill.student.kind == "tinybert"
    assert isinstance(recipe.distill, DistillConfig) and isinstance(recipe.pipeline, PipelineConfig)
    stages = recipe.pipeline.plan()
    assert [s.section for s in stages] == ["distill", "prune", "quantize"]
    assert stages[0].config.student.kind == "layers" and stages[0].config.student.layers == [1, 3, 5]
    assert stages[1].config.method == "vocab" and stages[2].config.method == "onnx-dynamic"


@pytest.mark.slow
@pytest.mark.integration
def test_smoke_run_fills_every_column(real_mirror, minilm_path, tmp_path):
    """A few training steps per stage on RTE: the table has a number in every RTE cell and every size and
    speed column, n/a for the tasks not mirrored offline, and nothing lands in benchmarks/results."""
    pytest.importorskip("onnxruntime")
    results = ROOT / "benchmarks" / "results"
    before = sorted(p.name for p in results.iterdir()) if results.is_dir() else []
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "glue.py"), "--tasks", "rte", "--smoke",
                           "--out", str(tmp_path)], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = json.loads((tmp_path / "results" / "glue.json").read_text())
    assert set(table["rows"]) == {"teacher", "student3", "narrow", "pipeline"}
    for name, row in table["rows"].items():
        rte = row["tasks"]["rte"]
        assert 0.0 <= rte["metrics"]["accuracy"] <= 1.0, name
        assert rte["score"] == pytest.approx(100 * rte["metrics"]["accuracy"])
        assert row["score"] == pytest.approx(rte["score"])  # the macro average over the one task run
        for key in ("size_on_disk_bytes", "speedup_batch_1", "speedup_batch_32", "speedup_batch_1_vs_ort",
                    "speedup_batch_32_vs_ort", "share_of_teacher"):
            assert row[key] is not None and row[key] > 0, (name, key)
        for task in ("mnli", "qqp", "qnli"):
            assert row["tasks"][task] == "n/a"
        assert row["tasks"]["cola"] == "not run"
    rows = table["rows"]
    assert rows["teacher"]["speedup_batch_32"] == pytest.approx(1.0)
    assert rows["pipeline"]["size_on_disk_bytes"] < rows["student3"]["size_on_disk_bytes"] < rows["teacher"]["size_on_disk_bytes"]
    md = (tmp_path / "results" / "glue.md").read_text()
    assert "| Model | Score | CoLA | MNLI | MRPC | QNLI | QQP | RTE | SST-2 | STS-B | WNLI |" in md
    assert "pending" not in md
    # every stage left its JSON (the resume marker), and a re-run skips them all
    stages = {p.stem for p in (tmp_path / "results" / "glue" / "rte").glob("*.json")}
    assert stages == {"teacher", "student3", "remedy", "pipeline", "narrow", "timing"}
    # --smoke always runs the collapse remedy (hidden + attention terms) so that its path is exercised
    remedy = table["remedies"]["rte"]
    assert remedy["needed"] and [l["name"] for l in remedy["config"]["losses"]][-2:] == ["hidden", "attention"]
    assert "- RTE: the 3-layer student" in md
    again = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "glue.py"), "--tasks", "rte", "--smoke",
                            "--out", str(tmp_path)], env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("done earlier") == 6
    assert (sorted(p.name for p in results.iterdir()) if results.is_dir() else []) == before

"""benchmarks/perf_sst2.py: a tiny-budget run times every model on every workload against both ORT teachers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hfcompress.config import load_recipe

ROOT = Path(__file__).resolve().parents[2]


def test_split_workloads_cover_the_split_and_bucket_by_length(use_fixture_mirror, tiny_bert_dir, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    from speed import split_workloads

    from hfcompress.hub import load
    from hfcompress.tasks import get_task

    task = get_task("sst2")
    lm = load(str(tiny_bert_dir), task=task)
    n = len(task.load("validation"))
    work = split_workloads(task, lm.preprocessor, "validation", single=5, batch_size=4)
    assert [len(b["input_ids"]) for b in work["batch_1"]] == [1] * min(5, n)
    for kind in ("batch_32", "batch_32_sorted"):
        assert sum(len(b["input_ids"]) for b in work[kind]) == n and all("labels" not in b for b in work[kind])
    # sorted: each batch pads to its own longest row, and the padded lengths never decrease
    widths = [b["input_ids"].shape[1] for b in work["batch_32_sorted"]]
    assert widths == sorted(widths)
    assert sum(b["input_ids"].numel() for b in work["batch_32_sorted"]) <= sum(b["input_ids"].numel()
                                                                             for b in work["batch_32"])


def test_split_passes_time_each_model_in_its_own_process_or_all_in_one(use_fixture_mirror, tiny_bert_dir,
                                                                       monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    from speed import time_split_passes

    from hfcompress.tasks import get_task

    task, models = get_task("sst2"), {"a": str(tiny_bert_dir), "b": str(tiny_bert_dir)}
    apart = time_split_passes(task, models, "validation", rounds=1, single=3, limit=6)
    together = time_split_passes(task, models, "validation", rounds=1, single=3, limit=6, processes=False)
    for results, own in ((apart, True), (together, False)):
        assert set(results) == {"a", "b"}
        for kind in ("batch_1", "batch_32", "batch_32_sorted"):
            t = results["a"][kind]
            assert t["own_process"] is own and t["pass_ms_median"] > 0
            assert (t["calls"], t["rows"]) == (together["b"][kind]["calls"], together["b"][kind]["rows"])
    assert apart["a"]["batch_1"]["calls"] == 3 and apart["a"]["batch_32"]["rows"] == 6
    assert apart["a"]["path"] == str(tiny_bert_dir)
    # a model its process cannot load is one clear error naming it, not a hang
    with pytest.raises(RuntimeError, match="missing-model"):
        time_split_passes(task, {"x": str(tmp_path / "missing-model")}, "validation", rounds=1, single=1, limit=2)


def test_fast_recipe_shares_the_headline_student():
    # the benchmark trains stage 01 once for both: that is only honest while the two stay identical
    head, fast = (load_recipe(ROOT / "recipes" / f"pipeline-sst2{s}.yaml").pipeline for s in ("", "-fast"))
    assert head.stages[0] == fast.stages[0]
    assert [s.config.method for s in fast.plan()[1:]] == ["ffn", "heads", "vocab", "onnx-dynamic"]


def test_narrow_recipe_continues_the_fast_student_and_refuses_a_missing_one(tmp_path):
    narrow = load_recipe(ROOT / "recipes" / "narrow-sst2.yaml").pipeline
    assert narrow.model == "out/pipeline-sst2-fast/03-prune"
    assert [s.config.method for s in narrow.plan()] == ["ffn", "heads"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HFCOMPRESS_DATASETS_MIRROR": str(tmp_path)}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "narrow_sst2.py"), "--work", str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "03-prune missing: run python benchmarks/perf_sst2.py first" in proc.stderr
    assert not (tmp_path / "fast").exists()


@pytest.mark.slow
@pytest.mark.integration
def test_smoke_run_times_everything(real_mirror, minilm_path, tmp_path):
    pytest.importorskip("onnxruntime")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "perf_sst2.py"), "--smoke", "--threads", "1",
                           "--teacher", minilm_path, "--out", str(tmp_path)], env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "fast/01-distill is headline/01-distill (same config), copied" in proc.stdout
    data = json.loads((tmp_path / "results" / "perf_sst2.json").read_text())
    models = data["models"]
    assert set(models) == {"teacher", "teacher-ort", "teacher-ort-O2", "student3", "pruned3", "headline", "fast"}
    timing = data["timing"]["1"]["models"]
    for name, t in timing.items():
        for kind in ("batch_1", "batch_32", "batch_32_sorted"):
            assert t[kind]["ms_per_call"] > 0 and t[kind]["speedup_vs_ort"] > 0, (name, kind)
            # "vs best" is against the fastest teacher runtime, so never kinder than vs eager or vs ORT
            assert t[kind]["speedup_vs_best"] <= min(t[kind]["speedup"], t[kind]["speedup_vs_ort"]) + 1e-9
        assert t["batch_1"]["calls"] == t["batch_1"]["rows"] == 64  # the smoke's 64 rows, one by one
        assert t["batch_32"]["calls"] == 2
    for kind in ("batch_1", "batch_32"):  # "vs ORT" is against the faster ORT teacher: it is 1.0x, the other <= 1
        ort = sorted(timing[b][kind]["speedup_vs_ort"] for b in ("teacher-ort", "teacher-ort-O2"))
        assert ort[0] <= 1.0 and ort[1] == pytest.approx(1.0)
    # (fast keeps 20,000 more vocabulary ids than headline, so the two are not ordered at smoke budgets)
    assert models["headline"]["parameters"] < models["student3"]["parameters"] < models["teacher"]["parameters"]
    assert models["fast"]["parameters"] < models["pruned3"]["parameters"] < models["student3"]["parameters"]
    assert len(data["targets_met"]) == 2 * 5 + 1  # + the narrowed student's, per thread count
    md = (tmp_path / "results" / "perf_sst2.md").read_text()
    assert "b32 sorted vs best unsorted" in md and "Strongest teacher" in md and (tmp_path / "results" / "perf_sst2_report" / "report.md").is_file()

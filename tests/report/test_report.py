"""The comparison report builds from fixture evaluation records into a table and real PNG plots."""

import copy
import json

import pytest
from PIL import Image

from hfcompress.cli.main import main
from hfcompress.errors import HfCompressError
from hfcompress.report import build_report, build_rows, pareto_front, read_records

pytest.importorskip("matplotlib")


def record(model, acc, latency, size, stages=(), sparsity=0.0, threads=2, task="sst2"):
    return {
        "schema": "hfcompress.eval/1", "task": task, "splits": ["validation"], "model": model, "loader": "pytorch",
        "compression": {"stages": [{"method": m, "params": {}, "result": {}} for m in stages]},
        "n_examples": 872, "metrics": {"accuracy": acc}, "main_metric": "accuracy",
        "efficiency": {"latency_ms_median": latency, "latency_ms_p90": latency * 1.1, "latency_batch_size": 32,
                       "throughput_examples_per_s": 32000 / latency, "size_on_disk_bytes": size,
                       "parameters": size // 4, "nonzero_parameters": int(size // 4 * (1 - sparsity)),
                       "sparsity": sparsity, "weight_sparsity": sparsity},
        "environment": {"cpu": "AMD EPYC", "threads": threads, "torch": "2.13", "transformers": "5.23"},
    }


@pytest.fixture
def records(tmp_path):
    recs = {
        "teacher.json": record("teacher", 0.870, 400.0, 90 * 2**20, stages=["finetune"]),
        "int8.json": record("int8", 0.866, 300.0, 25 * 2**20, stages=["finetune", "torch-dynamic"]),
        "pruned.json": record("pruned", 0.850, 350.0, 90 * 2**20, stages=["finetune", "unstructured"], sparsity=0.7),
        "bad.json": record("slow-and-worse", 0.80, 500.0, 95 * 2**20, stages=["finetune", "x"]),
        "other-threads.json": record("t4", 0.87, 200.0, 90 * 2**20, stages=["finetune", "y"], threads=4),
    }
    for name, rec in recs.items():
        (tmp_path / name).write_text(json.dumps(rec))
    (tmp_path / "not-a-record.json").write_text(json.dumps({"hello": 1}))
    return tmp_path


def test_rows_compute_ratios_against_the_baseline(records):
    rows = {r.method: r for r in build_rows(read_records([records]))}
    assert rows["baseline"].is_baseline and rows["baseline"].speedup == 1.0
    assert rows["torch-dynamic"].size_reduction == pytest.approx(90 / 25)
    assert rows["torch-dynamic"].speedup == pytest.approx(400 / 300)
    assert rows["torch-dynamic"].metric_change == pytest.approx(-0.4)
    assert rows["y"].speedup is None and not rows["y"].comparable  # other thread count: not compared


def test_pareto_front():
    # (cost, quality): (1, 0.5) and (2, 0.9) are on the front; (3, 0.8) is dominated by (2, 0.9)
    assert pareto_front([(1, 0.5), (2, 0.9), (3, 0.8)]) == [0, 1]


def test_report_has_table_and_real_png_plots(records, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["report", str(records), "--out", str(out)]) == 0
    assert f"report written to {out / 'report.md'}" in capsys.readouterr().out
    text = (out / "report.md").read_text()
    assert "| method | size (MiB) | size reduction |" in text and "torch-dynamic" in text and "(baseline)" in text
    pngs = sorted(out.glob("*.png"))
    assert [p.name for p in pngs] == ["sst2_latency.png", "sst2_size.png", "sst2_sparsity.png"]
    for png in pngs:
        with Image.open(png) as im:
            im.verify()
            assert im.format == "PNG" and im.size[0] > 300
    assert "Speedup is n/a where a record was measured on another CPU" in text
    summary = json.loads((out / "report.json").read_text())
    assert len(summary["sst2"]) == 5


def test_bad_inputs(tmp_path):
    with pytest.raises(HfCompressError, match="report input not found"):
        read_records([tmp_path / "missing.json"])
    (tmp_path / "x.json").write_text("{")
    with pytest.raises(HfCompressError, match="x.json: not a readable JSON file"):
        read_records([tmp_path / "x.json"])
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(HfCompressError, match="no evaluation records"):
        read_records([tmp_path])


def test_named_baseline_and_multiple_tasks(records, tmp_path):
    cifar = record("resnet", 0.8, 10.0, 2**20, stages=["finetune"], task="cifar10")
    (records / "cifar.json").write_text(json.dumps(cifar))
    out = build_report([records], tmp_path / "r2", baseline="int8")
    text = out.read_text()
    assert "## sst2" in text and "## cifar10" in text and "Baseline: `int8`" in text


def test_robustness_table_matches_shifted_records_to_their_models(records, tmp_path):
    shifted = {
        "teacher-rt.json": dict(record("teacher", 0.80, 400.0, 90 * 2**20, stages=["finetune"], task="rotten_tomatoes")),
        "int8-rt.json": dict(record("int8", 0.70, 300.0, 25 * 2**20, task="rotten_tomatoes")),
        "teacher-noise.json": {**record("teacher", 0.60, 400.0, 90 * 2**20, stages=["finetune"]),
                               "corruption": "char_noise:2"},
    }
    for name, rec in shifted.items():
        (records / name).write_text(json.dumps(rec))
    text = build_report([records], tmp_path / "r3").read_text()
    assert "## rotten_tomatoes" not in text  # OOD records are not a task section of their own
    assert "### Robustness (sst2)" in text
    table = text.split("### Robustness (sst2)")[1]
    assert "| rotten_tomatoes | char_noise:2 |" in table
    teacher_line = next(line for line in table.splitlines() if "(baseline)" in line)
    assert "0.8000 (92.0%)" in teacher_line and "0.6000 (69.0%)" in teacher_line
    int8_line = next(line for line in table.splitlines() if line.startswith("| finetune + torch-dynamic") or
                     line.startswith("| torch-dynamic"))
    assert "0.7000 (80.8%)" in int8_line and "n/a" in int8_line
    main_table = text.split("### Robustness")[0]
    assert "0.6000" not in main_table  # a corrupted record never enters the clean comparison

"""ONNX Runtime without Optimum: export, optimise (fusions counted), dynamic and static INT8; loads with hfcompress."""

import json

import pytest
import torch

import hfcompress
from hfcompress.quantize import QuantizeConfig, quantize
from hfcompress.tasks import get_task
from tests.quantize.util import assert_close_to_fp32, listing, task_batch, text_batch

pytestmark = pytest.mark.onnx
ort = pytest.importorskip("onnxruntime", reason='needs the onnx extra: pip install -e ".[onnx]"')


@pytest.mark.parametrize("method, options, tolerance", [
    ("onnx-fp32", {}, 1e-4),
    ("onnx-dynamic", {}, 0.1),
    ("onnx-static", {"calibration": "minmax"}, 0.15),
    ("onnx-static", {"calibration": "percentile", "percentile": 99.9}, 0.15),
    ("onnx-dynamic", {"optimization_level": "O2"}, 0.1),  # needs DefaultTensorType=FLOAT (see onnx.py)
])
def test_text(method, options, tolerance, tiny_bert_dir, tmp_path, use_fixture_mirror, in_empty_cwd):
    task = get_task("sst2")
    fp32 = hfcompress.load(tiny_bert_dir, task=task)
    batch = text_batch(fp32)
    out = tmp_path / "onnx"
    quantize(QuantizeConfig(task="sst2", model=str(tiny_bert_dir), output_dir=str(out), method=method,
                            calibration_samples=16, **options))
    loaded = hfcompress.load(out, task=task)
    assert loaded.loader == "onnx"
    logits = loaded.predict(batch)
    assert_close_to_fp32(fp32.predict(batch), logits, tolerance)
    # a plain ONNX Runtime session on the file gives identical outputs
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    direct = session.run(["logits"], {n: batch[n].numpy() for n in names})[0]
    assert names == ["input_ids", "attention_mask", "token_type_ids"]
    assert torch.equal(torch.from_numpy(direct), logits)
    config = json.loads((out / "config.json").read_text())
    assert config["hfcompress"]["stages"][-1]["params"]["method"] == method
    assert "model.onnx" in listing(out)
    assert listing(in_empty_cwd) == []  # no augmented_model.onnx or other intermediates here
    assert [p.name for p in tmp_path.iterdir() if p.name != "cwd"] == ["onnx"]


@pytest.mark.parametrize("method", ["onnx-static", "onnx-dynamic"])
def test_image(method, tiny_resnet_dir, tmp_path, use_fixture_mirror, in_empty_cwd):
    task = get_task("cifar10")
    float_model = hfcompress.load(tiny_resnet_dir, task=task)
    batch = task_batch(task, float_model)
    fp32 = float_model.predict(batch)
    out = tmp_path / "onnx"
    options = {"calibration": "entropy", "calibration_samples": 16} if method == "onnx-static" else {}
    summary = quantize(QuantizeConfig(task="cifar10", model=str(tiny_resnet_dir), output_dir=str(out), method=method,
                                      **options))
    assert summary["scheme"] == method.split("-")[1]
    assert_close_to_fp32(fp32, hfcompress.load(out, task=task).predict(batch), tolerance=0.2)
    assert listing(in_empty_cwd) == []


def test_evaluate_command_reads_onnx_folders(tiny_bert_dir, tmp_path, use_fixture_mirror):
    from hfcompress.cli.main import main

    out = tmp_path / "onnx"
    quantize(QuantizeConfig(task="sst2", model=str(tiny_bert_dir), output_dir=str(out), method="onnx-dynamic"))
    report = tmp_path / "eval.json"
    assert main(["evaluate", "--task", "sst2", "--model", str(out), "--limit", "8", "--repeats", "2",
                 "--json", str(report)]) == 0
    record = json.loads(report.read_text())
    assert record["loader"] == "onnx" and record["efficiency"]["size_on_disk_bytes"] == (out / "model.onnx").stat().st_size
    assert record["efficiency"]["parameters"] > 0


def test_auto_measures_and_explains(tiny_bert_dir, tmp_path, use_fixture_mirror, capsys, in_empty_cwd):
    out = tmp_path / "auto"
    summary = quantize(QuantizeConfig(task="sst2", model=str(tiny_bert_dir), output_dir=str(out), method="auto",
                                      auto_candidates=["torch-dynamic", "onnx-fp32"], auto_eval_samples=8,
                                      auto_max_accuracy_drop=0.5))
    printed = capsys.readouterr().out
    assert "auto: chose" in printed and "CPU flags" in printed
    decision = json.loads((out / "config.json").read_text())["hfcompress"]["stages"][-1]["result"]["auto"]
    assert decision["chosen"] == summary["method"] in ("torch-dynamic", "onnx-fp32")
    rows = decision["measurements"]
    assert rows[decision["chosen"]]["latency_ms"] == min(rows[m]["latency_ms"] for m in ("torch-dynamic", "onnx-fp32"))
    assert hfcompress.load(out).loader == ("onnx" if decision["chosen"] == "onnx-fp32" else "torch-int8")
    assert listing(in_empty_cwd) == []

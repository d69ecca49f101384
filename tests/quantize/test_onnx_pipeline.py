"""The headline pipeline shape on tiny models (vocabulary pruning -> ONNX Runtime INT8 with fusion), then the
report over its evaluations: the ONNX stage is evaluated and reported like any other."""

import json

import pytest

from hfcompress.hub import load
from hfcompress.pipeline import PipelineConfig, run_pipeline

pytestmark = pytest.mark.onnx
pytest.importorskip("onnxruntime", reason='needs the onnx extra: pip install -e ".[onnx]"')


def test_vocab_prune_then_onnx_int8_pipeline_and_report(tmp_path, tiny_bert_dir, use_fixture_mirror, capsys):
    from hfcompress.cli.main import main

    cfg = PipelineConfig(task="sst2", model=str(tiny_bert_dir), output_dir=str(tmp_path / "pipe"),
                         stages=[{"prune": {"method": "vocab"}},
                                 {"quantize": {"method": "onnx-dynamic", "optimization_level": "O2"}}],
                         evaluate={"limit": 8, "repeats": 2, "batch_size": 8})
    records = run_pipeline(cfg)
    assert [r["label"] for r in records] == ["01-prune", "02-quantize"]
    final = load(tmp_path / "pipe" / "02-quantize")
    assert final.loader == "onnx" and final.record.methods[-2:] == ["prune_vocab", "quantize"]
    assert final.record.stages[-1].result["fused"]["attention"] == 2
    assert main(["report", str(tmp_path / "pipe"), "--out", str(tmp_path / "report")]) == 0
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert "02-quantize" in json.dumps(report)
    assert "02-quantize" in (tmp_path / "report" / "report.md").read_text()

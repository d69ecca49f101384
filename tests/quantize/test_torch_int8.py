"""PyTorch INT8 (dynamic, FX static, QAT): accuracy bounds, exact save/reload, errors, record, CLI."""

import json

import pytest
import torch

import hfcompress
from hfcompress.hub.save import save_compressed
from hfcompress.errors import ConfigError, HfCompressError
from hfcompress.hub.record import CompressionRecord
from hfcompress.hub.save import atomic_directory
from hfcompress.quantize import QuantizeConfig, quantize, torch_int8
from hfcompress.quantize.backends import torch_int8_writer
from hfcompress.tasks import get_task
from tests.quantize.util import assert_close_to_fp32, image_batch, listing, task_batch, text_batch


def test_dynamic_int8_is_close_to_fp32_and_reloads_exactly(tiny_bert_dir, tmp_path, use_fixture_mirror, in_empty_cwd):
    task = get_task("sst2")
    loaded = hfcompress.load(tiny_bert_dir, task=task)
    batch = text_batch(loaded)
    fp32 = loaded.predict(batch)
    out = tmp_path / "q"
    summary = quantize(QuantizeConfig(task="sst2", model=str(tiny_bert_dir), output_dir=str(out), method="torch-dynamic"))
    assert summary["scheme"] == "dynamic"
    reloaded = hfcompress.load(out, task=task)
    assert reloaded.loader == "torch-int8"
    assert isinstance(reloaded.model.bert.encoder.layer[0].intermediate.dense, torch.ao.nn.quantized.dynamic.Linear)
    in_memory = torch_int8.quantize_dynamic_linear(loaded.model)
    assert torch.equal(reloaded.predict(batch), in_memory(**batch).logits)  # the round trip is exact
    assert_close_to_fp32(fp32, reloaded.predict(batch), tolerance=0.1)
    # the record explains the folder; INT8 Linear weights are stored as int8 tensors (no pickle)
    config = json.loads((out / "config.json").read_text())
    stage = config["hfcompress"]["stages"][-1]
    assert stage["method"] == "quantize" and stage["params"]["method"] == "torch-dynamic"
    assert stage["result"]["backend"] == "torch"
    from safetensors.torch import load_file

    stored = load_file(str(out / "model.safetensors"))
    assert stored["bert.encoder.layer.0.intermediate.dense._packed_params._packed_params::0"].dtype == torch.int8
    assert listing(in_empty_cwd) == [] and listing(tmp_path).count("q") == 1
    assert not [p for p in tmp_path.iterdir() if ".partial" in p.name]


def test_fx_static_resnet_round_trip_is_exact(tiny_resnet_dir, tmp_path):
    task = get_task("cifar10")
    loaded = hfcompress.load(tiny_resnet_dir, task=task)
    batch = image_batch()
    fp32 = loaded.predict(batch)
    torch.manual_seed(0)
    calibration = [{"pixel_values": torch.randn(8, 3, 32, 32)} for _ in range(4)]
    quantized = torch_int8.quantize_static_resnet(loaded.model, calibration)
    # real INT8 kernels: convolutions are quantized modules
    assert isinstance(quantized.core.stem.convolution, torch.ao.nn.intrinsic.quantized.ConvReLU2d)
    record = CompressionRecord(task="cifar10").with_stage(
        "quantize", {"method": "torch-static"}, {"backend": "torch", "scheme": "fx-static", "flow": "ptq"})
    save_compressed(None, tmp_path / "q", record, loaded.preprocessor, config=loaded.config,
                    write_weights=torch_int8_writer(quantized))
    reloaded = hfcompress.load(tmp_path / "q", task=task)
    with torch.inference_mode():
        expected = quantized(**batch).logits
    assert torch.equal(reloaded.predict(batch), expected)
    assert_close_to_fp32(fp32, expected, tolerance=0.15)


@pytest.mark.parametrize("calibration", [None, "minmax"])
def test_static_quantization_through_the_api_uses_task_calibration_data(calibration, tiny_resnet_dir, tmp_path,
                                                                         use_fixture_mirror, in_empty_cwd):
    out = tmp_path / "q"
    summary = quantize(QuantizeConfig(task="cifar10", model=str(tiny_resnet_dir), output_dir=str(out),
                                      method="torch-static", calibration_samples=16, calibration=calibration))
    assert summary["calibration"] == {"method": calibration or "histogram", "samples": 16}
    task = get_task("cifar10")
    loaded = hfcompress.load(tiny_resnet_dir, task=task)
    batch = task_batch(task, loaded)
    assert_close_to_fp32(loaded.predict(batch), hfcompress.load(out, task=task).predict(batch), tolerance=0.15)
    assert listing(in_empty_cwd) == []


@pytest.mark.parametrize("model_fixture, task", [("tiny_bert_dir", "sst2"), ("tiny_resnet_dir", "cifar10")])
def test_qat_trains_converts_and_reloads(model_fixture, task, request, tmp_path, use_fixture_mirror, in_empty_cwd):
    model_dir = request.getfixturevalue(model_fixture)
    out = tmp_path / "qat"
    summary = quantize(QuantizeConfig(task=task, model=str(model_dir), output_dir=str(out), method="qat",
                                      max_train_samples=16, batch_size=8, epochs=1.0, learning_rate=1e-4))
    assert summary["flow"] == "qat" and summary["global_step"] == 2 and summary["frozen_at_step"] is not None
    reloaded = hfcompress.load(out, task=get_task(task))
    assert reloaded.loader == "torch-int8"
    batch = image_batch() if task == "cifar10" else text_batch(reloaded)
    logits = reloaded.predict(batch)
    assert logits.shape == (8, get_task(task).num_labels) and torch.isfinite(logits).all()
    assert listing(in_empty_cwd) == []


def test_evaluate_reads_torch_int8_folders(tiny_bert_dir, tmp_path, use_fixture_mirror):
    from hfcompress.config import EvalConfig
    from hfcompress.evaluation import evaluate_model

    out = tmp_path / "q"
    quantize(QuantizeConfig(task="sst2", model=str(tiny_bert_dir), output_dir=str(out), method="torch-dynamic"))
    record = evaluate_model(EvalConfig(task="sst2", model=str(out), limit=8, batch_size=4, repeats=2))
    assert record["loader"] == "torch-int8" and record["compression"]["stages"][-1]["method"] == "quantize"
    # int8 weights are counted as parameters; the file is smaller than the fp32 one
    assert record["efficiency"]["parameters"] > 0
    assert (out / "model.safetensors").stat().st_size < (tiny_bert_dir / "model.safetensors").stat().st_size


# ---- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("method, task, fragment", [
    ("torch-dynamic", "cifar10", "use --method torch-static"),
    ("torch-static", "sst2", "use --method torch-dynamic"),
    ("bnb-4bit", "cifar10", "convolutions"),
])
def test_unsupported_method_for_model_type(method, task, fragment, tmp_path, tiny_bert_dir):
    out = tmp_path / "never"
    with pytest.raises(HfCompressError, match=fragment):
        quantize(QuantizeConfig(task=task, model=str(tiny_bert_dir), output_dir=str(out), method=method))
    assert not out.exists()


def test_static_without_calibration_data_is_a_clear_error(tiny_resnet_dir):
    loaded = hfcompress.load(tiny_resnet_dir, task=get_task("cifar10"))
    with pytest.raises(HfCompressError, match="needs calibration data"):
        torch_int8.quantize_static_resnet(loaded.model, [])
    with pytest.raises(ConfigError, match="calibration_samples: must be > 0"):
        QuantizeConfig.from_dict({"task": "cifar10", "model": "m", "output_dir": "o", "method": "torch-static",
                                  "calibration_samples": 0})


@pytest.mark.parametrize("data, fragment", [
    ({"method": "int3"}, "quantize.method: expected one of"),
    ({"method": "torch-dynamic", "optimization_level": "O2"}, "quantize.optimization_level: only ONNX methods"),
    ({"method": "onnx-static", "calibration": "kl"}, "quantize.calibration: expected one of"),
    ({"method": "torch-dynamic", "calibration": "minmax"}, "quantize.calibration: only static methods"),
    ({"method": "torch-static", "calibration": "entropy"}, "quantize.calibration: torch-static supports"),
    ({"percentile": 120.0}, "quantize.percentile: must be in (0, 100]"),
    ({"auto_candidates": ["torch-dynamic", "fp8"]}, "quantize.auto_candidates: unknown method 'fp8'"),
])
def test_config_errors_name_the_field(data, fragment):
    with pytest.raises(ConfigError) as info:
        QuantizeConfig.from_dict({"task": "sst2", "model": "m", "output_dir": "o", **data}, where="quantize")
    assert fragment in str(info.value)


def test_quantizing_a_quantized_model_is_refused(tiny_bert_dir, tmp_path):
    first = tmp_path / "q1"
    quantize(QuantizeConfig(task="sst2", model=str(tiny_bert_dir), output_dir=str(first), method="torch-dynamic"))
    with pytest.raises(HfCompressError, match="already quantized"):
        quantize(QuantizeConfig(task="sst2", model=str(first), output_dir=str(tmp_path / "q2"), method="torch-dynamic"))


def test_cli_quantize_and_user_error(tiny_bert_dir, tmp_path, capsys, use_fixture_mirror):
    from hfcompress.cli.main import EXIT_USER_ERROR, main

    out = tmp_path / "cli"
    assert main(["quantize", "--task", "sst2", "--model", str(tiny_bert_dir), "--output-dir", str(out),
                 "--method", "torch-dynamic"]) == 0
    assert "hfcompress evaluate --task sst2" in capsys.readouterr().out
    assert hfcompress.load(out).loader == "torch-int8"
    assert main(["quantize", "--task", "cifar10", "--model", str(tiny_bert_dir), "--output-dir", str(tmp_path / "x"),
                 "--method", "torch-dynamic"]) == EXIT_USER_ERROR
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not supported for image models" in err


def test_recipes_validate():
    from pathlib import Path

    from hfcompress.config import load_recipe

    recipes = sorted(Path(__file__).resolve().parents[2].glob("recipes/quantize-*.yaml"))
    assert len(recipes) >= 5
    for path in recipes:
        assert isinstance(load_recipe(path).quantize, QuantizeConfig)


def test_auto_without_onnxruntime_measures_what_is_installed(tiny_bert_dir, tmp_path, use_fixture_mirror, capsys,
                                                             monkeypatch, in_empty_cwd):
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    out = tmp_path / "auto"
    summary = quantize(QuantizeConfig(task="sst2", model=str(tiny_bert_dir), output_dir=str(out), method="auto",
                                      auto_eval_samples=8, auto_max_accuracy_drop=0.5))
    printed = capsys.readouterr().out
    assert "skipped onnx-fp32, onnx-dynamic (the ONNX methods need onnxruntime" in printed
    assert summary["method"] == "torch-dynamic" and "auto: chose torch-dynamic" in printed
    decision = json.loads((out / "config.json").read_text())["hfcompress"]["stages"][-1]["result"]["auto"]
    assert set(decision["measurements"]) == {"fp32", "torch-dynamic"} and decision["cpu_flags"] is not None
    assert hfcompress.load(out).loader == "torch-int8"
    assert listing(in_empty_cwd) == []


def test_auto_rejects_candidates_that_lose_accuracy(tiny_bert_dir, tmp_path, use_fixture_mirror, monkeypatch):
    from hfcompress.quantize import auto

    real = auto._measure
    monkeypatch.setattr(auto, "_measure", lambda path, task, cfg: {**real(path, task, cfg), "metric": 0.0}
                        if "torch-dynamic" in str(path) else {**real(path, task, cfg), "metric": 1.0})
    with pytest.raises(HfCompressError, match="no candidate kept the metric"):
        quantize(QuantizeConfig(task="sst2", model=str(tiny_bert_dir), output_dir=str(tmp_path / "a"), method="auto",
                                auto_candidates=["torch-dynamic"], auto_eval_samples=4))
    assert not (tmp_path / "a").exists()

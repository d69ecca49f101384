"""fp16 / bf16 baselines: close to fp32, half the bytes, reloaded in their dtype, evaluated, record."""

import json

import pytest
import torch

import hfcompress
from hfcompress.errors import ConfigError, HfCompressError
from hfcompress.quantize import QuantizeConfig, quantize
from hfcompress.tasks import get_task
from tests.quantize.util import assert_close_to_fp32, image_batch, listing, text_batch

# max logit difference relative to the logits' range (fp16 keeps 11 significant bits, bf16 8)
TOLERANCE = {"fp16": 1e-2, "bf16": 5e-2}
DTYPE = {"fp16": torch.float16, "bf16": torch.bfloat16}


def _tensor_bytes(folder):
    from safetensors.torch import load_file

    return sum(t.numel() * t.element_size() for f in folder.glob("*.safetensors") for t in load_file(str(f)).values())


@pytest.mark.parametrize("method", ["fp16", "bf16"])
@pytest.mark.parametrize("model_fixture, task", [("tiny_bert_dir", "sst2"), ("tiny_resnet_dir", "cifar10")])
def test_half_reloads_in_its_dtype_close_to_fp32(method, model_fixture, task, request, tmp_path, in_empty_cwd):
    model_dir = request.getfixturevalue(model_fixture)
    task_ = get_task(task)
    fp32 = hfcompress.load(model_dir, task=task_)
    batch = image_batch() if task == "cifar10" else text_batch(fp32)
    reference = fp32.predict(batch)
    out = tmp_path / method
    summary = quantize(QuantizeConfig(task=task, model=str(model_dir), output_dir=str(out), method=method))
    assert summary["dtype"] == str(DTYPE[method]).removeprefix("torch.")
    reloaded = hfcompress.load(out, task=task_)
    assert reloaded.loader == "half"
    assert {p.dtype for p in reloaded.model.parameters()} == {DTYPE[method]}
    logits = reloaded.predict(batch)  # float32 pixel_values are cast to the model's dtype
    assert logits.dtype == DTYPE[method]
    assert_close_to_fp32(reference, logits.float(), tolerance=TOLERANCE[method])
    assert hfcompress.AutoCompressedModel.from_pretrained(out).dtype == DTYPE[method]
    # half the bytes: every stored tensor is 2-byte (integer buffers aside), the file shrinks accordingly
    assert _tensor_bytes(out) <= 0.5 * _tensor_bytes(model_dir) + 64
    assert (out / "model.safetensors").stat().st_size < 0.65 * (model_dir / "model.safetensors").stat().st_size
    stage = json.loads((out / "config.json").read_text())["hfcompress"]["stages"][-1]
    assert stage["method"] == "quantize" and stage["params"]["method"] == method
    assert stage["result"]["backend"] == "half" and stage["result"]["dtype"] == summary["dtype"]
    assert listing(in_empty_cwd) == []


def test_evaluate_an_fp16_resnet(tiny_resnet_dir, tmp_path, use_fixture_mirror):
    from hfcompress.config import EvalConfig
    from hfcompress.evaluation import evaluate_model

    out = tmp_path / "h"
    quantize(QuantizeConfig(task="cifar10", model=str(tiny_resnet_dir), output_dir=str(out), method="fp16"))
    record = evaluate_model(EvalConfig(task="cifar10", model=str(out), limit=8, batch_size=4, repeats=2))
    assert record["loader"] == "half" and 0 <= record["metrics"]["accuracy"] <= 1
    assert record["efficiency"]["latency_ms_median"] > 0
    assert record["compression"]["stages"][-1]["result"]["dtype"] == "float16"


def test_half_of_a_pruned_model_keeps_the_pruned_shapes(tiny_bert_dir, tmp_path, use_fixture_mirror):
    from hfcompress.prune import PruneConfig, prune

    pruned = tmp_path / "p"
    prune(PruneConfig(task="sst2", model=str(tiny_bert_dir), output_dir=str(pruned), method="heads",
                      layers={0: [0, 1]}, eval_limit=0))
    quantize(QuantizeConfig(task="sst2", model=str(pruned), output_dir=str(tmp_path / "h"), method="bf16"))
    loaded = hfcompress.load(tmp_path / "h", task=get_task("sst2"))
    assert loaded.model.bert.encoder.layer[0].attention.self.num_attention_heads == 2
    assert loaded.model.dtype == torch.bfloat16
    with pytest.raises(HfCompressError, match="already quantized"):
        quantize(QuantizeConfig(task="sst2", model=str(tmp_path / "h"), output_dir=str(tmp_path / "x"),
                                method="fp16"))


@pytest.mark.parametrize("data, fragment", [
    ({"method": "fp16", "calibration": "minmax"}, "quantize.calibration: only static methods"),
    ({"method": "bf16", "per_channel": True}, "quantize.per_channel: bf16 casts every weight"),
    ({"method": "fp16", "optimization_level": "O1"}, "quantize.optimization_level: only ONNX methods"),
])
def test_half_config_errors_name_the_field(data, fragment):
    with pytest.raises(ConfigError) as info:
        QuantizeConfig.from_dict({"task": "sst2", "model": "m", "output_dir": "o", **data}, where="quantize")
    assert fragment in str(info.value)


def test_auto_measures_half_only_when_named(tiny_resnet_dir, tmp_path, use_fixture_mirror):
    from hfcompress.quantize.auto import DEFAULT_CANDIDATES

    assert not {"fp16", "bf16"} & {m for ms in DEFAULT_CANDIDATES.values() for m in ms}
    out = tmp_path / "auto"
    summary = quantize(QuantizeConfig(task="cifar10", model=str(tiny_resnet_dir), output_dir=str(out), method="auto",
                                      auto_candidates=["bf16"], auto_eval_samples=8, auto_max_accuracy_drop=0.5,
                                      per_channel=True))
    assert summary["method"] == "bf16" and "latency_ms" in summary["auto"]["measurements"]["bf16"]
    assert hfcompress.load(out).loader == "half"

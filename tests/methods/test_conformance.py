"""Conformance over the registry: every method runs on a tiny model through the public API, saves a
folder that reloads through ``hfcompress.load`` (twice identically), and a bad config is refused before
anything is written."""

import json

import pytest
import torch

import hfcompress
from hfcompress.errors import ConfigError, HfCompressError
from hfcompress.methods import registry
from tests import helpers
from tests.quantize.util import image_batch, text_batch

# Options per variant for a tiny model and the fixture mirror (a few seconds each).
TEXT = {
    ("prune", "heads"): {"method": "heads", "amount": 0.25, "importance": "magnitude"},
    ("prune", "ffn"): {"method": "ffn", "amount": 0.5, "importance": "magnitude"},
    ("prune", "unstructured"): {"method": "unstructured", "amount": 0.5},
    ("prune", "drop_layers"): {"method": "drop_layers", "drop": [0]},
    ("prune", "vocab"): {"method": "vocab"},
    ("quantize", "torch-dynamic"): {"method": "torch-dynamic"},
    ("quantize", "qat"): {"method": "qat", "max_train_samples": 8, "batch_size": 4},
    ("quantize", "bnb-8bit"): {"method": "bnb-8bit"},
    ("quantize", "bnb-4bit"): {"method": "bnb-4bit", "_hidden_size": 64},  # 4-bit blocks of 64 inputs
    ("quantize", "fp16"): {"method": "fp16"},
    ("quantize", "bf16"): {"method": "bf16"},
    ("quantize", "onnx-fp32"): {"method": "onnx-fp32"},
    ("quantize", "onnx-dynamic"): {"method": "onnx-dynamic"},
    ("quantize", "onnx-static"): {"method": "onnx-static", "calibration_samples": 8},
    ("quantize", "auto"): {"method": "auto", "auto_eval_samples": 8, "auto_max_accuracy_drop": 0.9,
                           "auto_candidates": ["torch-dynamic", "fp16"]},
    ("distill", None): {"student": {"kind": "layers", "layers": [1]}, "epochs": 1, "batch_size": 8,
                        "eval_at_end": False},
    ("train", None): {"epochs": 1, "batch_size": 8, "eval_at_end": False},
}
IMAGE = {
    ("prune", "channels"): {"method": "channels", "amount": 0.5, "importance": "magnitude", "score_samples": 4},
    ("prune", "drop_layers"): {"method": "drop_layers", "drop": [1]},
    ("quantize", "torch-static"): {"method": "torch-static", "calibration_samples": 8},
}
REMOVES_WEIGHTS = {"heads", "ffn", "drop_layers", "vocab", "channels"}
# methods whose backend needs a dependency that may be missing
OPTIONAL = {"bnb-8bit": "bitsandbytes", "bnb-4bit": "bitsandbytes", "onnx-fp32": "onnxruntime", "onnx-dynamic": "onnxruntime",
            "onnx-static": "onnxruntime"}
SLOW = {("quantize", "qat"), ("quantize", "auto"), ("distill", None), ("train", None)}


def test_every_registered_variant_has_a_conformance_case():
    covered = {k for k in (*TEXT, *IMAGE) if k[1] is not None}
    assert set(registry.VARIANTS) == covered


def _cases():
    for table, modality in ((TEXT, "text"), (IMAGE, "image")):
        for key, options in table.items():
            marks = [pytest.mark.slow] if key in SLOW else []
            yield pytest.param(modality, key, options, id=f"{modality}-{key[0]}-{key[1] or 'default'}", marks=marks)


def _batch(modality, loaded):
    return text_batch(loaded) if modality == "text" else image_batch()


def _size(folder):
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file() and p.suffix in (".safetensors", ".onnx"))


@pytest.mark.parametrize("modality, key, options", list(_cases()))
def test_method_runs_saves_and_reloads(modality, key, options, tiny_bert_dir, tmp_path, use_fixture_mirror):
    family, name = key
    if name in OPTIONAL:
        pytest.importorskip(OPTIONAL[name])
    task = "sst2" if modality == "text" else "cifar10"
    options = dict(options)
    hidden = options.pop("_hidden_size", None)
    if hidden:
        source = helpers.save_tiny_bert(tmp_path / "bert", hidden_size=hidden)
    elif modality == "text":
        source = tiny_bert_dir
    else:
        source = tmp_path / "resnet"
        helpers.tiny_resnet(depths=(2, 1)).save_pretrained(source)
    out = tmp_path / "out"
    result = hfcompress.compress(str(source), {family: dict(options)}, task=task, output_dir=out)
    assert (out / "config.json").is_file()
    stage = json.loads((out / "config.json").read_text())["hfcompress"]["stages"][-1]
    fam = registry.FAMILIES[family]
    assert stage["method"] == (fam.stage or registry.variant(family, name).stage)
    again = hfcompress.load(out, task=hfcompress.get_task(task))
    batch = _batch(modality, again)
    with torch.inference_mode():
        assert torch.equal(result.predict(batch), again.predict(batch))
    if name in REMOVES_WEIGHTS:
        assert _size(out) < _size(source)


@pytest.mark.parametrize("family", list(registry.FAMILIES))
def test_a_bad_config_is_refused_before_anything_is_written(family, tiny_bert_dir, tmp_path, use_fixture_mirror):
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match="unknown key 'no_such_field'"):
        hfcompress.compress(str(tiny_bert_dir), {family: {"no_such_field": 1}}, task="sst2", output_dir=out)
    assert not out.exists()


def test_methods_chain_in_memory(tiny_bert_dir, tmp_path, use_fixture_mirror):
    """compress() runs stages on the model the previous one produced; the last folder holds the history."""
    loaded = hfcompress.load(tiny_bert_dir, task=hfcompress.get_task("sst2"))
    final = hfcompress.compress(loaded, [{"prune": {"method": "heads", "amount": 0.25, "importance": "magnitude"}},
                                         {"quantize": {"method": "torch-dynamic"}}],
                                task="sst2", output_dir=tmp_path / "chain")
    assert final.loader == "torch-int8" and final.record.methods == ["prune_heads", "quantize"]
    assert (tmp_path / "chain" / "01-prune" / "config.json").is_file()
    assert final.path == tmp_path / "chain" / "02-quantize"
    with pytest.raises(HfCompressError):  # a quantized model is not pruned again
        hfcompress.compress(final, {"prune": {"method": "heads", "amount": 0.25, "importance": "magnitude"}},
                            task="sst2", output_dir=tmp_path / "again")

"""Every pruned model saves as safetensors + record and reloads, through hfcompress.load, into the
right shapes with outputs identical to before saving."""

import json

import pytest
import torch

import hfcompress
from hfcompress.hub import CompressionRecord
from hfcompress.prune.api import stage_name, prune_model, save_pruned
from hfcompress.prune.config import PruneConfig
from hfcompress.prune.unstructured import prunable_weights
from hfcompress.tasks import get_task
from tests import helpers


def _text_inputs():
    return {"input_ids": torch.tensor([[2, 7, 9, 11, 3], [2, 12, 3, 0, 0]]),
            "attention_mask": torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])}


def _cfg(method, **kw):
    return PruneConfig.from_dict({"task": "sst2", "model": "m", "output_dir": "o", "method": method,
                                  "importance": "magnitude", **kw})


def _save_and_load(model, cfg, result, folder, task="sst2", tok=None):
    record = CompressionRecord(base_model="tiny", task=task).with_stage(stage_name(cfg), cfg.to_dict(), result)
    save_pruned(model, folder, record, tok)
    assert not [p for p in folder.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".pkl")], "no pickle"
    return hfcompress.load(folder, task=get_task(task))


@pytest.mark.parametrize("method, kw", [
    ("heads", {"layers": {0: [0, 1, 2, 3], 1: [1]}}),  # one layer loses every head
    ("heads", {"count": 3}),
    ("ffn", {"amount": 0.5, "scope": "global"}),
    ("ffn", {"amount": 0.25, "scope": "layer"}),
])
def test_bert_structured_round_trip(tmp_path, method, kw):
    tok = helpers.make_tokenizer(tmp_path / "tok")
    model = helpers.tiny_bert(vocab_size=len(tok))
    n_before = sum(p.numel() for p in model.parameters())
    cfg = _cfg(method, **kw)
    result = prune_model(model, cfg)
    with torch.no_grad():
        expected = model(**_text_inputs()).logits
    loaded = _save_and_load(model, cfg, result, tmp_path / "m", tok=tok)
    assert torch.equal(loaded.predict(_text_inputs()), expected)
    assert sum(p.numel() for p in loaded.model.parameters()) == sum(p.numel() for p in model.parameters()) < n_before
    layers = loaded.model.bert.encoder.layer
    if method == "heads":
        assert [getattr(l.attention.self, "num_attention_heads") for l in layers] == result["heads_per_layer"]
    else:
        assert [l.intermediate.dense.out_features for l in layers] == result["ffn_widths"]
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["hfcompress"]["stages"][-1]["method"] == stage_name(cfg)


def test_resnet_channels_round_trip(tmp_path):
    pytest.importorskip("torch_pruning")
    model = helpers.tiny_resnet()
    x = torch.randn(2, 3, 32, 32)
    cfg = _cfg("channels", mac_reduction=2.0).replace(task="cifar10")
    result = prune_model(model, cfg, [{"pixel_values": x, "labels": torch.tensor([1, 2])}])
    assert result["mac_reduction"] >= 2.0 and result["macs_after"] * 2 <= result["macs_before"]
    assert result["params_after"] < result["params_before"]
    with torch.no_grad():
        expected = model(pixel_values=x).logits
    loaded = _save_and_load(model, cfg, result, tmp_path / "r", task="cifar10")
    assert torch.equal(loaded.predict({"pixel_values": x}), expected)
    shapes = {n: m.weight.shape for n, m in loaded.model.named_modules() if isinstance(m, torch.nn.Conv2d)}
    assert shapes == {n: m.weight.shape for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)}


def test_resnet_channels_with_gradient_importance():
    pytest.importorskip("torch_pruning")
    model = helpers.tiny_resnet().train()
    batch = {"pixel_values": torch.randn(4, 3, 32, 32), "labels": torch.tensor([0, 1, 2, 3])}
    result = prune_model(model, _cfg("channels", importance="gradient", amount=0.5), [batch])
    assert result["params_after"] < result["params_before"]
    assert model(pixel_values=batch["pixel_values"]).logits.shape == (4, 10)


@pytest.mark.parametrize("storage", ["packed", "dense"])
def test_unstructured_round_trip_and_size_on_disk(tmp_path, storage):
    tok = helpers.make_tokenizer(tmp_path / "tok")
    model = helpers.tiny_bert(vocab_size=len(tok))
    dense_dir = tmp_path / "dense0"
    model.save_pretrained(dense_dir)
    cfg = _cfg("unstructured", amount=0.8, storage=storage)
    result = prune_model(model, cfg)
    n = sum(w.numel() for w in prunable_weights(model).values())
    assert result["sparsity"] * n == round(0.8 * n)  # exactly the requested count of zeros
    with torch.no_grad():
        expected = model(**_text_inputs()).logits
    loaded = _save_and_load(model, cfg, result, tmp_path / storage, tok=tok)
    assert torch.equal(loaded.predict(_text_inputs()), expected)
    for name, p in loaded.model.named_parameters():
        assert torch.equal(p, dict(model.named_parameters())[name])
    size = sum(f.stat().st_size for f in (tmp_path / storage).glob("*.safetensors"))
    dense_size = sum(f.stat().st_size for f in dense_dir.glob("*.safetensors"))
    if storage == "packed":
        assert size < dense_size  # embeddings stay dense, so less than the 80% the matrices lose
    else:
        assert size == pytest.approx(dense_size, rel=0.01)

"""The compressed-model format: save_pretrained folder + record in config.json, rebuilt on load."""

import json

import pytest
import torch

import hfcompress
from hfcompress.errors import ModelLoadError, TaskError
from hfcompress.hub import (AutoCompressedModel, CompressionRecord, atomic_directory, load,
                            save_compressed)
from hfcompress.tasks import get_task
from tests import helpers


def _inputs():
    return {"input_ids": torch.tensor([[2, 7, 9, 11, 3], [2, 12, 3, 0, 0]]),
            "attention_mask": torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])}


def test_uncompressed_text_model_round_trips(tmp_path):
    tok = helpers.make_tokenizer(tmp_path / "tok")
    model = helpers.tiny_bert(vocab_size=len(tok))
    record = CompressionRecord(base_model="tiny", task="sst2")
    save_compressed(model, tmp_path / "m", record, tok)

    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["hfcompress"]["format_version"] == 1 and config["hfcompress"]["base_model"] == "tiny"
    assert not list((tmp_path / "m").glob("*.bin")), "safetensors only, never pickle"

    loaded = load(tmp_path / "m", task=get_task("sst2"))
    assert loaded.loader == "pytorch" and loaded.record.base_model == "tiny"
    assert loaded.preprocessor is not None
    with torch.no_grad():
        expected = model(**_inputs()).logits
    assert torch.equal(loaded.predict(_inputs()), expected)
    assert torch.equal(AutoCompressedModel.from_pretrained(tmp_path / "m")(**_inputs()).logits, expected)


def test_image_model_round_trips(tmp_path):
    model = helpers.tiny_resnet()
    save_compressed(model, tmp_path / "r", CompressionRecord(task="cifar10"))
    loaded = hfcompress.load(tmp_path / "r", task=get_task("cifar10"))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded.predict({"pixel_values": x}), model(pixel_values=x).logits)


class KeepLayers:
    """A toy method strategy: rebuilds a skeleton with only the recorded layers."""

    rebuilds = True

    def rebuild(self, model, stage):
        keep = stage.result["kept_layers"]
        model.bert.encoder.layer = torch.nn.ModuleList(model.bert.encoder.layer[i] for i in keep)


def test_record_stages_and_rebuild_hook(tmp_path, monkeypatch):
    """A method registered with rebuilds=True reshapes the skeleton before the weights load."""
    from hfcompress.methods import registry

    entry = registry.Variant("prune", "test-keep", "tests.hub.test_roundtrip:KeepLayers", "test-drop-layers")
    monkeypatch.setitem(registry.VARIANTS, ("prune", "test-keep"), entry)
    tok = helpers.make_tokenizer(tmp_path / "tok")
    model = helpers.tiny_bert(vocab_size=len(tok))
    model.bert.encoder.layer = torch.nn.ModuleList([model.bert.encoder.layer[1]])
    record = CompressionRecord(base_model="tiny").with_stage("test-drop-layers", {"drop": [0]},
                                                             {"kept_layers": [0]})
    save_compressed(model, tmp_path / "m", record, tok)
    loaded = load(tmp_path / "m")
    assert loaded.record.methods == ["test-drop-layers"]
    assert len(loaded.model.bert.encoder.layer) == 1
    with torch.no_grad():
        assert torch.equal(loaded.predict(_inputs()), model(**_inputs()).logits)


def test_unknown_stage_method_is_refused(tmp_path):
    tok = helpers.make_tokenizer(tmp_path / "tok")
    model = helpers.tiny_bert(vocab_size=len(tok))
    record = CompressionRecord(base_model="tiny").with_stage("no-such-method", {}, {})
    save_compressed(model, tmp_path / "m", record, tok)
    with pytest.raises(ModelLoadError, match="no-such-method"):
        load(tmp_path / "m")


def test_with_stage_does_not_mutate():
    a = CompressionRecord()
    b = a.with_stage("prune", {"x": 1})
    assert a.stages == [] and b.methods == ["prune"]


def test_failed_save_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_directory(tmp_path / "m") as tmp:
            (tmp / "model.safetensors").write_bytes(b"partial")
            raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []


def test_save_into_existing_folder_keeps_other_files(tmp_path):
    (tmp_path / "m" / "checkpoints").mkdir(parents=True)
    model = helpers.tiny_resnet()
    save_compressed(model, tmp_path / "m", CompressionRecord())
    assert (tmp_path / "m" / "checkpoints").is_dir() and (tmp_path / "m" / "config.json").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_load_errors_name_the_problem(tmp_path, tiny_bert_dir):
    with pytest.raises(ModelLoadError, match="model folder not found"):
        load(tmp_path / "missing")
    with pytest.raises(ModelLoadError, match="not a local folder and could not be fetched"):
        load("nobody/no-such-model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="has no config.json"):
        load(tmp_path / "empty")
    with pytest.raises(TaskError, match="model has 2 output label.* task 'mnli' needs 3"):
        load(tiny_bert_dir, task=get_task("mnli"))


def test_pickle_weights_are_refused(tmp_path):
    model = helpers.tiny_resnet()
    (tmp_path / "m").mkdir()
    model.config.save_pretrained(tmp_path / "m")
    torch.save(model.state_dict(), tmp_path / "m" / "pytorch_model.bin")  # a pickle
    with pytest.raises(ModelLoadError, match="safetensors only"):
        load(tmp_path / "m")


def test_load_by_hub_id_from_offline_cache(tmp_path, monkeypatch):
    """The real Hub resolution code (snapshot_download) against a local cache, no network."""
    cache = tmp_path / "hub"
    snapshot = cache / "models--acme--tiny-resnet" / "snapshots" / ("a" * 40)
    save_compressed(helpers.tiny_resnet(), snapshot, CompressionRecord(task="cifar10"))
    (cache / "models--acme--tiny-resnet" / "refs").mkdir(parents=True)
    (cache / "models--acme--tiny-resnet" / "refs" / "main").write_text("a" * 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)
    loaded = load("acme/tiny-resnet", task=get_task("cifar10"))
    assert loaded.path == snapshot and loaded.record.task == "cifar10"

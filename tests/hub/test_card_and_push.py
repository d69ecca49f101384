"""Model cards parse as Hub metadata; push checks the folder and uploads only model files."""

import pytest
import yaml
from huggingface_hub import ModelCard

from hfcompress.errors import ModelLoadError
from hfcompress.hub import CompressionRecord, save_compressed
from hfcompress.hub.card import model_card
from hfcompress.hub.push import push_to_hub
from hfcompress.tasks import get_task
from tests import helpers


def test_model_card_is_valid_hub_metadata(tmp_path):
    record = CompressionRecord(base_model="sentence-transformers/all-MiniLM-L6-v2", task="sst2").with_stage(
        "finetune", {"epochs": 1.0})
    text = model_card(record, get_task("sst2"), {"accuracy": 0.87}, title="teacher")
    (tmp_path / "README.md").write_text(text)
    card = ModelCard.load(tmp_path / "README.md")  # huggingface_hub's own parser
    data = card.data.to_dict()
    assert data["library_name"] == "transformers" and "hfcompress" in data["tags"]
    assert data["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert data["datasets"] == ["nyu-mll/glue"] and data["pipeline_tag"] == "text-classification"
    result = data["model-index"][0]["results"][0]
    assert result["metrics"] == [{"type": "accuracy", "value": 0.87}]
    assert "hfcompress.AutoCompressedModel.from_pretrained" in card.text


def test_local_base_model_paths_are_not_published_as_metadata():
    meta = yaml.safe_load(model_card(CompressionRecord(base_model="/home/me/model")).split("---")[1])
    assert "base_model" not in meta


class FakeApi:
    def __init__(self):
        self.calls = []

    def create_repo(self, repo_id, **kw):
        self.calls.append(("create_repo", repo_id, kw))

    def upload_folder(self, **kw):
        self.calls.append(("upload_folder", kw))
        return type("Info", (), {"commit_url": "https://hub/acme/m/commit/1"})()


def test_push_uploads_only_model_files(tmp_path):
    folder = tmp_path / "m"
    save_compressed(helpers.tiny_resnet(), folder, CompressionRecord(task="cifar10"), card=model_card(CompressionRecord()))
    (folder / "checkpoints").mkdir()
    api = FakeApi()
    assert push_to_hub(folder, "acme/m", api=api) == "https://hub/acme/m/commit/1"
    (_, repo, kw), (_, upload) = api.calls
    assert repo == "acme/m" and kw["private"] is True
    assert upload["folder_path"] == str(folder) and "*.safetensors" in upload["allow_patterns"]
    assert "*.bin" not in upload["allow_patterns"] and "*.pt" not in upload["allow_patterns"]


def test_push_refuses_incomplete_folders(tmp_path, tiny_bert_dir):
    with pytest.raises(ModelLoadError, match="has no 'hfcompress' record"):
        push_to_hub(tiny_bert_dir, "acme/m", api=FakeApi())
    folder = tmp_path / "m"
    save_compressed(helpers.tiny_resnet(), folder, CompressionRecord())
    with pytest.raises(ModelLoadError, match="no README.md model card"):
        push_to_hub(folder, "acme/m", api=FakeApi())

"""Issue 17, class 5: every output is publishable and explains itself."""

from __future__ import annotations

import json

import pytest
import yaml
from huggingface_hub import ModelCard

from hfcompress.errors import HfCompressError
from hfcompress.hub import CompressionRecord, save_compressed
from hfcompress.hub.card import is_hub_id, model_card, write_card
from hfcompress.hub.push import check_publishable, push_to_hub
from tests import helpers
from tests.safety.util import copy_model, fails_in_one_line, snapshot


def _meta(card: str) -> dict:
    return yaml.safe_load(card.split("---")[1])


# ---- quantized outputs carry a card -----------------------------------------------------------
def test_write_card_makes_a_quantized_folder_publishable(tiny_bert_dir, tmp_path, use_fixture_mirror):
    from hfcompress.cli.main import main

    assert main(["quantize", "--task", "sst2", "--model", str(tiny_bert_dir), "--output-dir", str(tmp_path / "q"),
                 "--method", "torch-dynamic"]) == 0
    if not (tmp_path / "q" / "README.md").exists():
        write_card(tmp_path / "q", metrics={"accuracy": 0.5})  # what quantize/api.py should call
    assert check_publishable(tmp_path / "q")
    card = ModelCard.load(tmp_path / "q" / "README.md")
    assert "quantize" in card.data.to_dict()["tags"] and "torch-dynamic" in card.text


def test_quantize_writes_a_model_card(tiny_bert_dir, tmp_path, use_fixture_mirror):
    from hfcompress.cli.main import main

    assert main(["quantize", "--task", "sst2", "--model", str(tiny_bert_dir), "--output-dir", str(tmp_path / "q"),
                 "--method", "torch-dynamic"]) == 0
    assert check_publishable(tmp_path / "q")


# ---- prune cards: metrics, full parameters, base_model ----------------------------------------
def test_prune_card_carries_the_metrics_it_measured(tiny_bert_dir, tmp_path, use_fixture_mirror):
    from hfcompress.cli.main import main

    assert main(["prune", "--task", "sst2", "--model", str(tiny_bert_dir), "--output-dir", str(tmp_path / "p"),
                 "--method", "heads", "--amount", "0.5", "--importance", "magnitude", "--eval-limit", "8"]) == 0
    data = ModelCard.load(tmp_path / "p" / "README.md").data.to_dict()
    assert data["model-index"][0]["results"][0]["metrics"]


def test_card_with_metrics_lists_them(tmp_path):
    record = CompressionRecord(base_model="acme/bert", task="sst2").with_stage("prune_heads", {"amount": 0.5})
    folder = tmp_path / "m"
    folder.mkdir()
    write_card(folder, record, "sst2", metrics={"accuracy": 0.8125, "f1": 0.8, "note": "x"})
    card = ModelCard.load(folder / "README.md")
    metrics = card.data.to_dict()["model-index"][0]["results"][0]["metrics"]
    assert {"type": "accuracy", "value": 0.8125} in metrics and "| accuracy | 0.8125 |" in card.text


def test_card_parameters_are_complete_and_parse(tmp_path):
    layers = {i: list(range(12)) for i in range(30)}  # far beyond the old 300-character cut
    params = {"layers": layers, "method": "heads", "amount": None, "output_dir": "/home/me/out"}
    text = model_card(CompressionRecord(task="sst2").with_stage("prune_heads", params))
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    parsed = yaml.safe_load("\n".join(l[3:] for l in block.splitlines()))
    assert parsed["layers"] == {i: list(range(12)) for i in range(30)} or parsed["layers"] == {
        str(i): list(range(12)) for i in range(30)}
    assert "output_dir" not in parsed  # a local path says nothing to whoever downloads the model
    (tmp_path / "README.md").write_text(text)
    ModelCard.load(tmp_path / "README.md")


def test_base_model_is_a_hub_id_or_left_out(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out" / "teacher").mkdir(parents=True)
    for local in ("out/teacher", "./out/teacher", "/abs/path", "scratch:resnet10", "../x/y", "~/m"):
        meta = _meta(model_card(CompressionRecord(base_model=local)))
        assert "base_model" not in meta, local
        assert local not in model_card(CompressionRecord(base_model=local)).split("---", 2)[2].split("##")[0]
    assert _meta(model_card(CompressionRecord(base_model="acme/bert-base")))["base_model"] == "acme/bert-base"
    assert is_hub_id("acme/bert-base") and not is_hub_id("out/teacher")


# ---- push -----------------------------------------------------------------------------------
def _publishable(folder):
    save_compressed(helpers.tiny_resnet(), folder, CompressionRecord(task="cifar10"),
                    card=model_card(CompressionRecord()))
    return folder


def test_push_while_offline_is_one_line(tmp_path, capsys):
    folder = _publishable(tmp_path / "m")
    before = snapshot(folder)
    fails_in_one_line(["push", "--model", str(folder), "--repo-id", "acme/m"], capsys, "offline")
    assert snapshot(folder) == before


def test_push_network_failure_is_one_line(tmp_path):
    class DownApi:
        def create_repo(self, *a, **k):
            raise ConnectionError("Failed to resolve 'huggingface.co'\n  (multi-line details)")

    with pytest.raises(HfCompressError, match="push to acme/m failed: ConnectionError: Failed to resolve") as exc:
        push_to_hub(_publishable(tmp_path / "m"), "acme/m", api=DownApi())
    assert "\n" not in str(exc.value)


# ---- distill with flags only -------------------------------------------------------------------
def test_distill_with_flags_only_runs_or_fails_in_one_line(tiny_bert_dir, tmp_path, use_fixture_mirror, capsys):
    from hfcompress.cli.main import main

    capsys.readouterr()
    code = main(["distill", "--task", "sst2", "--teacher", str(tiny_bert_dir), "--output-dir", str(tmp_path / "o"),
                 "--epochs", "1", "--max-train-samples", "4", "--max-eval-samples", "4"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert code == 0 or (code == 2 and err.strip().splitlines()[-1].startswith("hfcompress distill: error: "))


# ---- ONNX folder whose path contains '@' ---------------------------------------------------------
def test_onnx_folder_with_at_sign_loads(tiny_bert_dir, tmp_path, use_fixture_mirror):
    pytest.importorskip("onnxruntime")
    from hfcompress.cli.main import main

    out = tmp_path / "model@v1"
    assert main(["quantize", "--task", "sst2", "--model", str(tiny_bert_dir), "--output-dir", str(out),
                 "--method", "onnx-dynamic"]) == 0
    import hfcompress

    assert hfcompress.load(out).loader == "onnx"

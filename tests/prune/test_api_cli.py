"""`hfcompress prune` and `hfcompress.prune.prune`: recipes, validation before writing, end to end."""

import json
from pathlib import Path

import pytest
import torch

import hfcompress
from hfcompress.cli.main import EXIT_USER_ERROR, main
from hfcompress.config import load_recipe
from hfcompress.errors import ConfigError
from hfcompress.prune import PruneConfig, prune
from hfcompress.prune.config import PruneError

RECIPES = sorted(Path(__file__).resolve().parents[2].joinpath("recipes").glob("prune-*.yaml"))


def test_shipped_recipes_are_valid():
    configs = {r.stem: load_recipe(r).prune for r in RECIPES}  # each loads and validates
    assert {"heads", "ffn", "unstructured", "channels", "vocab", "drop_layers"} <= {c.method for c in configs.values()}
    # the distillation-recovery recipe differs from the plain heads recipe only in how it recovers
    kd, plain = configs["prune-sst2-heads-kd"], configs["prune-sst2-heads"]
    assert kd.recovery == "distill" and plain.recovery == "plain" and kd.finetune_epochs > 0
    differ = {k for k, v in kd.to_dict().items() if plain.to_dict()[k] != v}
    assert differ == {"recovery", "output_dir"}


@pytest.mark.parametrize("data, fragment", [
    ({"method": "unstructured", "amount": -0.2}, "prune.amount: must be in [0, 0.999], got -0.2"),
    ({"method": "heads", "count": -1}, "prune.count: must be >= 0"),
    ({"method": "heads"}, "give exactly one of amount, count, layers, drop, mac_reduction"),
    ({"method": "ffn", "count": 3}, "prune.count: applies to methods 'heads' and 'drop_layers' only"),
    ({"method": "heads", "amount": 0.5, "schedule": "gradual"}, "prune.schedule"),
    ({"method": "unstructured", "amount": 0.5, "schedule": "gradual"}, "prune.finetune_epochs"),
    ({"method": "channels", "mac_reduction": 0.5}, "prune.mac_reduction: must be > 1"),
    ({"method": "heads", "layers": {"0": [1]}}, "prune.layers.<key>: expected an integer"),
    ({"method": "heads", "amount": 0.4, "recovery": "distill"},
     "prune.recovery: 'distill' is a recovery fine-tune; it needs finetune_epochs > 0, got 0.0"),
    ({"method": "heads", "amount": 0.4, "recovery": "kd", "finetune_epochs": 1}, "prune.recovery: expected one of"),
    ({"method": "heads", "amount": 0.4, "recovery": "distill", "finetune_epochs": 1, "recovery_temperature": 0},
     "prune.recovery_temperature: must be > 0"),
    ({"method": "ffn", "amount": 0.4, "recovery": "distill", "finetune_epochs": 1, "recovery_ce_weight": -1},
     "prune.recovery_ce_weight: must be >= 0"),
])
def test_config_errors_name_the_field(data, fragment):
    with pytest.raises(ConfigError) as err:
        PruneConfig.from_dict({"task": "sst2", "model": "m", "output_dir": "o", **data}, where="prune")
    assert fragment in str(err.value)


@pytest.mark.parametrize("extra, fragment", [
    (["--count", "99"], "cannot remove 99 heads, the model has only 8"),
    (["--amount", "-0.5"], "amount: must be in [0, 1], got -0.5"),
])
def test_cli_refuses_bad_requests_before_writing(tiny_bert_dir, tmp_path, use_fixture_mirror, capsys, extra, fragment):
    out = tmp_path / "out"
    code = main(["prune", "--task", "sst2", "--model", str(tiny_bert_dir), "--output-dir", str(out),
                 "--method", "heads", *extra])
    assert code == EXIT_USER_ERROR
    last = capsys.readouterr().err.strip().splitlines()[-1]  # earlier lines: progress bars
    assert last.startswith("hfcompress prune: error: ") and fragment in last, last
    assert not out.exists() and not list(tmp_path.glob(".out.partial-*"))


def test_layer_out_of_range_from_python_writes_nothing(tiny_bert_dir, tmp_path, use_fixture_mirror):
    cfg = PruneConfig(task="sst2", model=str(tiny_bert_dir), output_dir=str(tmp_path / "o"), method="heads",
                      layers={5: [0]})
    with pytest.raises(PruneError, match="layer index 5 is out of range"):
        prune(cfg)
    assert not (tmp_path / "o").exists()


def test_cli_heads_with_recovery_end_to_end(tiny_bert_dir, tmp_path, use_fixture_mirror, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"prune: {{task: sst2, model: {tiny_bert_dir}, output_dir: {tmp_path / 'p'}, method: heads, "
                      "importance: gradient, amount: 0.5, score_samples: 8, batch_size: 4, finetune_epochs: 1, "
                      "eval_limit: 8}\n")
    assert main(["prune", "--recipe", str(recipe), "--threads", "1"]) == 0
    printed = capsys.readouterr().out
    assert "saved pruned model" in printed and "accuracy" in printed
    record = json.loads((tmp_path / "p" / "config.json").read_text())["hfcompress"]
    stage = record["stages"][-1]
    assert stage["method"] == "prune_heads" and sum(stage["result"]["heads_per_layer"]) == 4
    assert stage["result"]["recovery"]["steps"] == 4  # 16 fixture rows, batch 4
    assert stage["params"]["amount"] == 0.5
    loaded = hfcompress.load(tmp_path / "p")
    assert sum(l.attention.self.num_attention_heads for l in loaded.model.bert.encoder.layer) == 4


def test_python_api_gradual_unstructured_end_to_end(tiny_bert_dir, tmp_path, use_fixture_mirror):
    cfg = PruneConfig(task="sst2", model=str(tiny_bert_dir), output_dir=str(tmp_path / "u"), method="unstructured",
                      amount=0.6, schedule="gradual", schedule_end=0.5, finetune_epochs=2, batch_size=4,
                      learning_rate=1e-3, eval_limit=0, threads=1)
    out = prune(cfg)
    assert out["result"]["recovery"]["steps"] == 8
    assert out["result"]["recovery"]["schedule"][-1][0] == 4 and out["result"]["sparsity"] == pytest.approx(0.6, abs=1e-3)
    loaded = hfcompress.load(tmp_path / "u")
    w = loaded.model.bert.encoder.layer[0].intermediate.dense.weight
    assert 0.2 < float((w == 0).float().mean()) < 1.0 and torch.isfinite(w).all()


def test_cli_channels_on_an_image_task(tmp_path, use_fixture_mirror, capsys):
    pytest.importorskip("torch_pruning")
    from hfcompress.hub import CompressionRecord, save_compressed
    from tests import helpers

    save_compressed(helpers.tiny_resnet(), tmp_path / "r", CompressionRecord(task="cifar10"))
    assert main(["prune", "--task", "cifar10", "--model", str(tmp_path / "r"), "--output-dir", str(tmp_path / "p"),
                 "--method", "channels", "--mac-reduction", "2", "--importance", "gradient", "--score-samples", "8",
                 "--finetune-epochs", "1", "--batch-size", "8", "--eval-limit", "4", "--threads", "1"]) == 0
    stage = json.loads((tmp_path / "p" / "config.json").read_text())["hfcompress"]["stages"][-1]
    assert stage["method"] == "prune_channels" and stage["result"]["mac_reduction"] >= 2
    loaded = hfcompress.load(tmp_path / "p")
    x = torch.randn(1, 3, 32, 32)
    assert loaded.predict({"pixel_values": x}).shape == (1, 10)

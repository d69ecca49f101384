"""Layer dropping (method drop_layers): BERT layers and ResNet blocks removed, config updated, strict
reload with identical outputs, importance measured by skipping, errors naming the field, CLI."""

import json

import pytest
import torch

import hfcompress
from hfcompress.cli.main import EXIT_USER_ERROR, main
from hfcompress.errors import ConfigError
from hfcompress.hub import CompressionRecord
from hfcompress.prune import PruneConfig, prune
from hfcompress.prune.api import prune_model, save_pruned
from hfcompress.prune.config import PruneError
from hfcompress.tasks import get_task
from tests import helpers


def _cfg(**kw):
    return PruneConfig.from_dict({"task": "sst2", "model": "m", "output_dir": "o", "method": "drop_layers", **kw},
                                 where="prune")


def _text_inputs():
    return {"input_ids": torch.tensor([[2, 7, 9, 11, 3], [2, 12, 3, 0, 0]]),
            "attention_mask": torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])}


def _save_and_load(model, cfg, result, folder, task, tok=None):
    record = CompressionRecord(base_model="tiny", task=task).with_stage("prune_layers", cfg.to_dict(), result)
    save_pruned(model, folder, record, tok)
    return hfcompress.load(folder, task=get_task(task))


def test_bert_drop_by_index_updates_config_and_reloads_identically(tmp_path):
    tok = helpers.make_tokenizer(tmp_path / "tok")
    model = helpers.tiny_bert(vocab_size=len(tok), num_hidden_layers=4)
    last = model.bert.encoder.layer[3].output.dense.weight.clone()
    result = prune_model(model, _cfg(drop=[1, 2]))
    assert result["dropped"] == [1, 2] and result["kept"] == [0, 3] and "loss_increase" not in result
    assert result["num_hidden_layers"] == 2 and result["params_after"] < result["params_before"]
    assert model.config.num_hidden_layers == 2 and len(model.bert.encoder.layer) == 2
    with torch.no_grad():
        expected = model(**_text_inputs()).logits
    loaded = _save_and_load(model, _cfg(drop=[1, 2]), result, tmp_path / "m", "sst2", tok)
    assert torch.equal(loaded.predict(_text_inputs()), expected)
    assert torch.equal(loaded.model.bert.encoder.layer[1].output.dense.weight, last)  # old layer 3, renumbered
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["num_hidden_layers"] == 2 and config["hfcompress"]["stages"][-1]["result"]["dropped"] == [1, 2]
    assert torch.equal(hfcompress.AutoCompressedModel.from_pretrained(tmp_path / "m")(**_text_inputs()).logits,
                       expected)


def test_resnet_drop_by_index_updates_depths_and_reloads_identically(tmp_path):
    model = helpers.tiny_resnet(depths=(2, 2))  # blocks 0, 1 (stage 0), 2 (projection), 3 (stage 1)
    x = torch.randn(2, 3, 32, 32)
    cfg = _cfg(task="cifar10", drop=[0, 3])
    result = prune_model(model, cfg)
    assert result["depths_before"] == [2, 2] and result["depths"] == [1, 1] and model.config.depths == [1, 1]
    with torch.no_grad():
        expected = model(pixel_values=x).logits
    loaded = _save_and_load(model, cfg, result, tmp_path / "r", "cifar10")
    assert torch.equal(loaded.predict({"pixel_values": x}), expected)
    assert [len(s.layers) for s in loaded.model.resnet.encoder.stages] == [1, 1]


@pytest.mark.parametrize("make, drop, fragment", [
    (lambda: helpers.tiny_resnet(depths=(2, 2)), [2], "prune.drop: block 2 (stage 1, block 0) changes the shape"),
    (lambda: helpers.tiny_resnet(depths=(2, 2)), [0, 1], "prune.drop: every block of stage 0 would be removed"),
    (lambda: helpers.tiny_bert(num_hidden_layers=2), [0, 1], "prune.drop: cannot remove all 2 layers"),
    (lambda: helpers.tiny_bert(num_hidden_layers=2), [5], "prune.drop: index 5 is out of range"),
])
def test_impossible_drops_are_refused_before_any_change(make, drop, fragment):
    model = make()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(PruneError) as err:
        prune_model(model, _cfg(drop=drop))
    assert fragment in str(err.value)
    assert model.state_dict().keys() == before.keys()


def _text_batches(n=2):
    torch.manual_seed(3)
    return [{"input_ids": torch.randint(5, 100, (4, 8)), "attention_mask": torch.ones(4, 8, dtype=torch.long),
             "labels": torch.randint(0, 2, (4,))} for _ in range(n)]


def test_importance_drops_the_requested_count_lowest_loss_increase_first():
    model = helpers.tiny_bert(num_hidden_layers=4)
    result = prune_model(model, _cfg(count=2), _text_batches())
    scores = result["loss_increase"]
    assert len(scores) == 4 and len(result["dropped"]) == 2 and model.config.num_hidden_layers == 2
    assert sorted(result["dropped"]) == sorted(sorted(range(4), key=lambda i: scores[i])[:2])
    # ResNet: half of 4 blocks by amount; only blocks 0/1 (one of them) and 3 can go
    resnet = helpers.tiny_resnet(depths=(2, 2))
    batches = [{"pixel_values": torch.randn(4, 3, 32, 32), "labels": torch.tensor([0, 1, 2, 3])}]
    result = prune_model(resnet, _cfg(task="cifar10", amount=0.5), batches)
    assert result["loss_increase"][2] is None and 3 in result["dropped"] and len(result["dropped"]) == 2
    assert resnet.config.depths == [1, 1]
    with pytest.raises(PruneError, match="prune.count: only 2 of the 4 blocks can be removed"):
        prune_model(helpers.tiny_resnet(depths=(2, 2)), _cfg(task="cifar10", count=3), batches)
    with pytest.raises(PruneError, match="prune.count: cannot remove all 4 layers"):
        prune_model(helpers.tiny_bert(num_hidden_layers=4), _cfg(count=4), _text_batches())


@pytest.mark.parametrize("data, fragment", [
    ({"drop": [1], "method": "heads"}, "prune.drop: applies to method 'drop_layers' only"),
    ({"drop": [1, 1]}, "prune.drop: list distinct layer indices"),
    ({"amount": 1.0}, "prune.amount: must be in [0, 0.999]"),
    ({"count": 1, "importance": "magnitude"}, "prune.importance: drop_layers ranks layers"),
    ({"layers": {0: [1]}}, "prune.layers: applies to method 'heads' only"),
    ({"count": 1, "drop": [1]}, "give exactly one of amount, count, layers, drop, mac_reduction"),
])
def test_config_errors_name_the_field(data, fragment):
    with pytest.raises(ConfigError) as err:
        _cfg(**data)
    assert fragment in str(err.value)


def test_cli_recipe_with_importance_and_recovery(tmp_path, use_fixture_mirror, capsys):
    model_dir = helpers.save_tiny_bert(tmp_path / "bert", num_hidden_layers=3)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"prune: {{task: sst2, model: {model_dir}, output_dir: {tmp_path / 'p'}, method: drop_layers, "
                      "count: 1, score_samples: 8, batch_size: 4, finetune_epochs: 1, eval_limit: 8}\n")
    assert main(["prune", "--recipe", str(recipe), "--threads", "1"]) == 0
    assert "saved pruned model" in capsys.readouterr().out
    config = json.loads((tmp_path / "p" / "config.json").read_text())
    stage = config["hfcompress"]["stages"][-1]
    assert stage["method"] == "prune_layers" and len(stage["result"]["dropped"]) == 1
    assert len(stage["result"]["loss_increase"]) == 3 and stage["result"]["recovery"]["steps"] == 4
    assert config["num_hidden_layers"] == 2
    assert len(hfcompress.load(tmp_path / "p").model.bert.encoder.layer) == 2


def test_cli_scratch_resnet_by_index_and_refusals(tmp_path, use_fixture_mirror, capsys):
    out = tmp_path / "r"
    assert main(["prune", "--task", "cifar10", "--model", "scratch:resnet18-w16", "--output-dir", str(out),
                 "--method", "drop_layers", "--drop", "3,5", "--eval-limit", "4", "--threads", "1"]) == 0
    loaded = hfcompress.load(out)
    assert loaded.config.depths == [2, 1, 1, 2]
    assert loaded.predict({"pixel_values": torch.randn(1, 3, 32, 32)}).shape == (1, 10)
    # block 2 opens stage 1 (projection shortcut): refused, nothing written
    code = main(["prune", "--task", "cifar10", "--model", "scratch:resnet18-w16", "--output-dir",
                 str(tmp_path / "x"), "--method", "drop_layers", "--drop", "2"])
    assert code == EXIT_USER_ERROR and "prune.drop: block 2" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_heads_after_drop_reload_but_drop_after_heads_is_refused(tiny_bert_dir, tmp_path, use_fixture_mirror):
    dropped = tmp_path / "d"
    prune(PruneConfig(task="sst2", model=str(tiny_bert_dir), output_dir=str(dropped), method="drop_layers",
                      drop=[0], eval_limit=0))
    prune(PruneConfig(task="sst2", model=str(dropped), output_dir=str(tmp_path / "h"), method="heads",
                      layers={0: [0, 1]}, eval_limit=0))
    loaded = hfcompress.load(tmp_path / "h")
    assert [l.attention.self.num_attention_heads for l in loaded.model.bert.encoder.layer] == [2]
    with pytest.raises(PruneError, match="prune.method: drop_layers cannot follow prune_heads"):
        prune(PruneConfig(task="sst2", model=str(tmp_path / "h"), output_dir=str(tmp_path / "x"),
                          method="drop_layers", count=0, eval_limit=0))
    assert not (tmp_path / "x").exists()

"""``recovery: distill``: the recovery fine-tune distils from the unpruned model (a frozen copy taken
before pruning) with hfcompress's DistillationTrainer, for every pruning method, text and image."""

import gc
import json
import math
import weakref

import pytest
import torch

import hfcompress
from hfcompress.cli.main import main
from hfcompress.hub import CompressionRecord, save_compressed
from hfcompress.prune import PruneConfig, prune
from hfcompress.prune import api as prune_api
from hfcompress.prune.api import stage_name, frozen_copy, prune_model, recover, save_pruned, score_batches
from hfcompress.prune.config import PruneError
from hfcompress.tasks import get_task
from tests import helpers


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models, shared CPU


@pytest.fixture
def tiny_resnet_dir(tmp_path):
    save_compressed(helpers.tiny_resnet(), tmp_path / "resnet", CompressionRecord(task="cifar10"))
    return tmp_path / "resnet"


def _inputs(task_name, preprocessor):
    if task_name == "cifar10":
        return {"pixel_values": torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))}
    return {k: v for k, v in preprocessor(["the movie was good", "boring"], padding=True, return_tensors="pt").items()}


@pytest.mark.parametrize("task_name, method, kw", [
    ("sst2", "heads", {"amount": 0.5, "importance": "magnitude"}),
    ("cifar10", "channels", {"mac_reduction": 2.0, "importance": "gradient", "score_samples": 8}),
])
def test_distill_recovery_pieces(task_name, method, kw, tiny_bert_dir, tiny_resnet_dir, tmp_path, use_fixture_mirror):
    if method == "channels":
        pytest.importorskip("torch_pruning")
    task = get_task(task_name)
    src = tiny_bert_dir if task_name == "sst2" else tiny_resnet_dir
    loaded = hfcompress.load(src, task=task)
    model, pre = loaded.model, loaded.preprocessor
    n_before = sum(p.numel() for p in model.parameters())
    cfg = PruneConfig.from_dict({"task": task_name, "model": str(src), "output_dir": str(tmp_path / "o"),
                                 "method": method, "finetune_epochs": 1, "recovery": "distill", "batch_size": 4,
                                 "recovery_temperature": 3.0, "recovery_ce_weight": 0.25, "threads": 1, **kw})
    teacher = frozen_copy(model)
    teacher_state = {k: v.clone() for k, v in teacher.state_dict().items()}
    batches = score_batches(task, pre, cfg) if method == "channels" else None
    result = prune_model(model, cfg, batches)
    assert result["params_after"] < n_before
    rec = recover(model, cfg, task, pre, teacher=teacher)

    # the teacher is the unpruned model, untouched and frozen
    assert rec["kind"] == "distill" and rec["teacher_params"] == n_before == result["params_before"]
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())
    assert all(torch.equal(v, teacher_state[k]) for k, v in teacher.state_dict().items())
    # the loss is KD (logits at the recovery temperature) + weighted CE, each term logged
    assert set(rec["loss_terms"]) == {"logits", "ce"} and all(v > 0 for v in rec["loss_terms"].values())
    assert rec["losses"]["terms"] == {"logits": {"weight": 1.0, "temperature": 3.0}, "ce": {"weight": 0.25}}
    assert rec["train_loss"] == pytest.approx(rec["loss_terms"]["logits"] + 0.25 * rec["loss_terms"]["ce"], rel=1e-3)
    assert rec["steps"] == math.ceil(rec["examples"] / 4)
    # the student carries no distillation modules, saves and reloads with identical outputs
    assert not any(k.startswith("distill_heads") for k in model.state_dict())
    record = CompressionRecord(base_model="tiny", task=task_name).with_stage(
        stage_name(cfg), cfg.to_dict(), {**result, "recovery": rec})
    save_pruned(model, tmp_path / "p", record, pre)
    again = hfcompress.load(tmp_path / "p", task=task)
    x = _inputs(task_name, pre)
    with torch.no_grad():
        expected = model(**x).logits
    assert torch.equal(again.predict(x), expected)
    assert sum(p.numel() for p in again.model.parameters()) == result["params_after"]


@pytest.mark.parametrize("method, extra", [
    ("heads", ["--amount", "0.5", "--score-samples", "8"]),
    ("ffn", ["--amount", "0.5", "--importance", "magnitude"]),
    ("unstructured", ["--amount", "0.6", "--schedule", "gradual"]),
    ("channels", ["--mac-reduction", "2", "--score-samples", "8"]),
])
def test_cli_distill_recovery_every_method(method, extra, tiny_bert_dir, tiny_resnet_dir, tmp_path, use_fixture_mirror,
                                           capsys, monkeypatch):
    if method == "channels":
        pytest.importorskip("torch_pruning")
    teachers = []

    def tracked_copy(model):
        teacher = frozen_copy(model)
        teachers.append((weakref.ref(teacher), sum(p.numel() for p in model.parameters())))
        return teacher

    def checked_save(*args, **kwargs):  # the teacher is gone before the save (and the evaluation after it)
        gc.collect()
        assert teachers and teachers[0][0]() is None, "the teacher outlived the recovery"
        return save_pruned(*args, **kwargs)

    monkeypatch.setattr(prune_api, "frozen_copy", tracked_copy)
    monkeypatch.setattr(prune_api, "save_pruned", checked_save)
    task, src = ("cifar10", tiny_resnet_dir) if method == "channels" else ("sst2", tiny_bert_dir)
    out = tmp_path / "p"
    assert main(["prune", "--task", task, "--model", str(src), "--output-dir", str(out), "--method", method, *extra,
                 "--finetune-epochs", "1", "--recovery", "distill", "--batch-size", "4", "--eval-limit", "0",
                 "--threads", "1"]) == 0
    assert "train_loss_logits" in capsys.readouterr().out  # the KD term in the trainer's log
    stage = json.loads((out / "config.json").read_text())["hfcompress"]["stages"][-1]
    assert stage["method"] == stage_name(PruneConfig(task=task, model="m", output_dir="o", method=method, amount=0.5))
    assert stage["params"]["recovery"] == "distill" and stage["params"]["recovery_temperature"] == 2.0
    rec = stage["result"]["recovery"]
    assert rec["kind"] == "distill" and rec["temperature"] == 2.0 and set(rec["loss_terms"]) == {"logits", "ce"}
    assert rec["teacher_params"] == stage["result"]["params_before"]
    # one teacher, a copy of the model as it was before pruning (released: see checked_save)
    assert len(teachers) == 1 and teachers[0][1] == rec["teacher_params"]
    if method == "unstructured":
        assert stage["result"]["sparsity"] == pytest.approx(0.6, abs=1e-3) and rec["schedule"]
    else:
        assert stage["result"]["params_after"] < rec["teacher_params"]
    loaded = hfcompress.load(out)
    assert not any(k.startswith("distill_heads") for k in loaded.model.state_dict())


def test_plain_recovery_takes_no_teacher(tiny_bert_dir, tmp_path, use_fixture_mirror, monkeypatch):
    monkeypatch.setattr(prune_api, "frozen_copy", lambda m: pytest.fail("plain recovery copied the model"))
    out = prune(PruneConfig(task="sst2", model=str(tiny_bert_dir), output_dir=str(tmp_path / "p"), method="heads",
                            importance="magnitude", amount=0.25, finetune_epochs=1, batch_size=8, eval_limit=0,
                            threads=1))
    assert out["result"]["recovery"]["kind"] == "plain" and "teacher_params" not in out["result"]["recovery"]


def test_distill_recovery_without_teacher_is_refused(tiny_bert_dir, use_fixture_mirror):
    task = get_task("sst2")
    loaded = hfcompress.load(tiny_bert_dir, task=task)
    cfg = PruneConfig.from_dict({"task": "sst2", "model": "m", "output_dir": "o", "method": "heads", "amount": 0.25,
                                 "finetune_epochs": 1, "recovery": "distill"})
    with pytest.raises(PruneError, match=r"prune\.recovery: 'distill' needs the unpruned model as teacher"):
        recover(loaded.model, cfg, task, loaded.preprocessor)

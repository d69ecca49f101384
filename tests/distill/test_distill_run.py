"""Whole distillations on tiny models and the fixture mirror (seconds each)."""

import json
from pathlib import Path

import pytest
import torch

from hfcompress.config import load_recipe
from hfcompress.distill import DistillConfig, DistillationTrainer, DistillationTrainingArguments
from hfcompress.distill.api import check_labels, distill
from hfcompress.distill.students import layer_subset_student
from hfcompress.distill.trainer import DistillCollator, IndexedDataset
from hfcompress.errors import ConfigError, HfCompressError, TaskError
from hfcompress.hub.load import load
from tests.distill.util import save_tiny_teacher, tiny_teacher
from tests.helpers import tiny_resnet

RECIPES = sorted((Path(__file__).resolve().parents[2] / "recipes").glob("distill-*.yaml"))


def cfg(teacher, out, **kw):
    base = dict(task="sst2", teacher=str(teacher), output_dir=str(out), student={"kind": "layers", "every_k": 2},
                epochs=1, batch_size=4, eval_batch_size=8, max_length=16, eval_repeats=1, logging_steps=1,
                save_steps=1000)
    base.update(kw)
    return DistillConfig.from_dict(base)


def test_few_steps_on_tiny_models_reduce_the_loss(tmp_path):
    teacher = tiny_teacher(seed=0)
    student = layer_subset_student(tiny_teacher(seed=1), [1, 3])  # unrelated weights: much to learn
    torch.manual_seed(0)
    rows = [{"input_ids": torch.randint(5, 100, (8,)).tolist(), "labels": i % 2} for i in range(8)]

    def collate(features):
        return {"input_ids": torch.tensor([f["input_ids"] for f in features]),
                "labels": torch.tensor([f["labels"] for f in features])}

    args = DistillationTrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=8, max_steps=30,
                                         learning_rate=3e-3, logging_steps=5, report_to="none", save_strategy="no",
                                         remove_unused_columns=False, temperature=2.0, use_cpu=True,
                                         distill_losses=[{"name": "logits"}, {"name": "hidden"}])
    trainer = DistillationTrainer(model=student, args=args, teacher=teacher, train_dataset=IndexedDataset(rows),
                                  data_collator=DistillCollator(collate))
    trainer.train()
    logs = [h for h in trainer.state.log_history if "loss" in h]
    assert {"loss_logits", "loss_hidden"} <= set(logs[0])
    assert logs[-1]["loss"] < 0.5 * logs[0]["loss"], logs
    assert all(p.grad is None for p in teacher.parameters())


def test_recipe_run_saves_student_with_its_record(tmp_path, tiny_teacher_dir, use_fixture_mirror):
    c = cfg(tiny_teacher_dir, tmp_path / "s", gradient_accumulation_steps=2,
            losses=[{"name": "logits"}, {"name": "ce", "weight": 0.5}, {"name": "hidden", "embeddings": True},
                    {"name": "attention", "layer_map": [[0, 1], [1, 3]]}, {"name": "crd", "negatives": 64}])
    result = distill(c)
    assert result.output_dir == tmp_path / "s" and result.stage.method == "distill"
    # evaluation is the caller's: the registry says what to evaluate after a distillation
    from hfcompress.evaluation import evaluate_model
    from hfcompress.methods.registry import evaluations

    records = {label: evaluate_model(e) for label, e in evaluations("distill", c)}
    assert records["student"]["metrics"]["accuracy"] >= 0 and records["teacher"]["metrics"]
    loaded = load(tmp_path / "s")
    assert loaded.model.config.num_hidden_layers == 2
    assert not any(k.startswith("distill_heads") for k in loaded.model.state_dict())  # heads not saved
    stage = loaded.record.stages[-1]
    assert stage.method == "distill" and stage.params["teacher"] == str(tiny_teacher_dir)
    res = stage.result
    assert res["teacher_layers_kept"] == [1, 3] and res["temperature"] == 2.0
    assert res["losses"]["terms"]["hidden"]["layer_map"] == [[0, 1], [1, 3]]
    assert res["losses"]["terms"]["attention"]["layer_map"] == [[0, 1], [1, 3]]
    assert set(res["losses"]["terms"]) == {"logits", "ce", "hidden", "attention", "crd"}


def test_resume_and_overwrite_rules(tmp_path, tiny_teacher_dir, use_fixture_mirror):
    c = cfg(tiny_teacher_dir, tmp_path / "s", save_steps=2, eval_at_end=False, offline_teacher=True)
    first = distill(c)
    assert first["global_step"] == 4 and first["offline_precompute_seconds"] is not None
    with pytest.raises(HfCompressError, match="is not empty"):  # a finished run's folder: --overwrite or --resume
        distill(c)
    again = distill(c.replace(epochs=2.0), resume=True)  # continues from checkpoint-4
    assert again["global_step"] == 8
    with pytest.raises(HfCompressError, match="no checkpoint to resume from"):
        distill(c.replace(output_dir=str(tmp_path / "other")), resume=True)


@pytest.fixture
def fresh_accelerate_state():
    """transformers 4.57 keeps accelerate's process-wide mixed-precision state between Trainers."""
    from accelerate.state import AcceleratorState

    yield
    AcceleratorState._reset_state(reset_partial_state=True)


def test_bf16_mixed_precision_on_cpu(tmp_path, tiny_teacher_dir, use_fixture_mirror, fresh_accelerate_state):
    narrow = {"kind": "tinybert", "num_layers": 2, "hidden_size": 16, "num_attention_heads": 4}
    result = distill(cfg(tiny_teacher_dir, tmp_path / "s", mixed_precision="bf16", eval_at_end=False, student=narrow,
                         losses=[{"name": "logits"}, {"name": "hidden"}, {"name": "crd", "negatives": 8}]))
    assert result["global_step"] == 4 and result["train_loss"] == result["train_loss"]  # finite, not NaN
    assert load(tmp_path / "s").model.config.hidden_size == 16


def test_resnet_student_with_stage_features_and_crd(tmp_path, use_fixture_mirror):
    teacher_dir = tmp_path / "teacher"
    tiny_resnet().save_pretrained(teacher_dir)
    c = DistillConfig.from_dict(dict(
        task="cifar10", teacher=str(teacher_dir), output_dir=str(tmp_path / "s"),
        student={"kind": "model", "model": "scratch:resnet10-w16"}, epochs=1, batch_size=8, eval_repeats=1,
        eval_batch_size=8, logging_steps=1, save_steps=1000, eval_teacher=False,
        losses=[{"name": "logits"}, {"name": "hidden", "layer_map": [[1, 0], [3, 1]]}, {"name": "crd", "negatives": 16}]))
    result = distill(c)
    terms = load(tmp_path / "s").record.stages[-1].result["losses"]["terms"]
    assert terms["hidden"]["pairs"] == [["resnet.encoder.stages.1", "resnet.encoder.stages.0"],
                                        ["resnet.encoder.stages.3", "resnet.encoder.stages.1"]]
    assert terms["crd"]["student_module"] == "resnet.pooler"
    assert result.stage.result["student_layers"] == 4


@pytest.mark.parametrize("change, error, fragment", [
    ({"losses": [{"name": "logitz"}]}, ConfigError, "unknown loss 'logitz'"),
    ({"losses": [{"name": "hidden", "layer_map": [[0, 1], [1, 7]]}]}, ConfigError,
     "teacher layer 7 does not exist (teacher has 4 layers)"),
    ({"losses": [{"name": "attention", "layer_map": [[2, 1]]}]}, ConfigError, "student layer 2 does not exist"),
    ({"student": {"kind": "layers", "layers": [0, 9]}}, ConfigError, "teacher layer(s) [9] do not exist"),
    ({"student": {"kind": "tinybert", "num_layers": 2, "num_attention_heads": 8, "hidden_size": 16}, "losses": [{"name": "attention"}]},
     ConfigError, "cannot pair 8 student attention heads with 4 teacher heads"),
    ({"offline_teacher": True, "losses": [{"name": "logits"}, {"name": "hidden"}]}, ConfigError,
     "cannot serve the 'hidden' loss"),
    ({"losses": [{"name": "hidden", "student_modules": ["bert.nope"], "teacher_modules": ["bert.pooler"]}]},
     ConfigError, "has no module 'bert.nope'"),
])
def test_bad_recipes_fail_before_training(change, error, fragment, tmp_path, tiny_teacher_dir, use_fixture_mirror):
    data = {**cfg(tiny_teacher_dir, tmp_path / "s").to_dict(), **change}
    with pytest.raises(error) as info:
        distill(DistillConfig.from_dict(data))
    assert fragment in str(info.value)
    assert not (tmp_path / "s").exists()  # nothing trained, nothing written


def test_teacher_student_label_mismatch(tmp_path, use_fixture_mirror):
    three = save_tiny_teacher(tmp_path / "t3", num_labels=3)
    with pytest.raises(TaskError, match="needs 2"):
        distill(cfg(three, tmp_path / "s"))
    t, s = tiny_teacher().config, tiny_teacher().config
    s.id2label = {0: "positive", 1: "negative"}
    with pytest.raises(ConfigError, match="differ"):
        check_labels(t, s, type("T", (), {"num_labels": 2, "name": "sst2"})())


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_shipped_recipes_validate(path):
    recipe = load_recipe(path)
    assert isinstance(recipe.distill, DistillConfig)


def test_cli_distill_and_its_user_errors(tmp_path, tiny_teacher_dir, use_fixture_mirror, capsys):
    from hfcompress.cli.main import EXIT_USER_ERROR, main

    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"distill:\n  task: sst2\n  teacher: {tiny_teacher_dir}\n  output_dir: {tmp_path / 's'}\n"
                      "  student: {kind: layers, layers: [0, 3]}\n  epochs: 1\n  batch_size: 8\n  eval_repeats: 1\n"
                      "  eval_teacher: false\n")
    assert main(["distill", "--recipe", str(recipe), "--max-length", "16"]) == 0
    assert "saved student to" in capsys.readouterr().out and (tmp_path / "s" / "config.json").is_file()
    bad = tmp_path / "bad.yaml"
    bad.write_text(recipe.read_text() + "  losses: [{name: kd}]\n")
    assert main(["distill", "--recipe", str(bad)]) == EXIT_USER_ERROR
    assert "unknown loss 'kd'" in capsys.readouterr().err


def test_alpha_sets_the_soft_and_hard_weights_and_is_checked():
    from hfcompress.distill import DistillConfig

    base = {"task": "sst2", "teacher": "t", "output_dir": "o"}
    cfg = DistillConfig.from_dict({**base, "alpha": 0.9}, where="distill")
    assert {l.name: l.weight for l in cfg.losses} == {"logits": 0.9, "ce": pytest.approx(0.1)}
    with pytest.raises(ConfigError, match=r"distill.alpha: must be in \[0, 1\]"):
        DistillConfig.from_dict({**base, "alpha": 1.5}, where="distill")
    with pytest.raises(ConfigError, match="distill.alpha: .* no 'ce'"):
        DistillConfig.from_dict({**base, "alpha": 0.5, "losses": [{"name": "logits"}]}, where="distill")

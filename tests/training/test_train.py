"""Fine-tuning through the plain Trainer path, on tiny models and fixture data (seconds)."""

import json

import pytest
import torch
from transformers import TrainerCallback

from hfcompress.config import TrainConfig
from hfcompress.errors import HfCompressError, TaskError
from hfcompress.hub import load
from hfcompress.tasks import get_task
from hfcompress.training import train
from tests import helpers


def cfg(model, out, task="sst2", **kw):
    base = dict(task=task, model=str(model), output_dir=str(out), epochs=1, batch_size=4, eval_batch_size=8,
                max_train_samples=16, max_eval_samples=8, save_steps=2, logging_steps=1, learning_rate=1e-3)
    base.update(kw)
    return TrainConfig(**base)


def test_train_text_saves_a_loadable_model_with_record(use_fixture_mirror, tiny_bert_dir, tmp_path):
    result = train(cfg(tiny_bert_dir, tmp_path / "out"))
    assert result["global_step"] == 4 and "eval_accuracy" in result
    out = tmp_path / "out"
    record = json.loads((out / "config.json").read_text())["hfcompress"]
    assert record["stages"][0]["method"] == "finetune" and record["task"] == "sst2"
    assert (out / "README.md").read_text().startswith("---\n")
    loaded = load(out, task=get_task("sst2"))
    assert loaded.record.stages[0].params["epochs"] == 1.0


@pytest.mark.parametrize("task", ["stsb", "mnli"])
def test_train_regression_and_three_way(task, use_fixture_mirror, tmp_path):
    model_dir = helpers.save_tiny_bert(tmp_path / "base", num_labels=2)
    result = train(cfg(model_dir, tmp_path / "out", task=task, reinit_head=True))
    assert torch.isfinite(torch.tensor(result["train_loss"]))
    assert load(tmp_path / "out", task=get_task(task)).config.num_labels == get_task(task).num_labels


def test_train_image_from_scratch(use_fixture_mirror, tmp_path):
    result = train(cfg("scratch:resnet10-w16", tmp_path / "out", task="cifar10"))
    assert "eval_accuracy" in result
    assert (tmp_path / "out" / "preprocessor_config.json").is_file()
    assert load(tmp_path / "out", task=get_task("cifar10")).config.num_labels == 10


def test_scratch_architecture_with_a_larger_input_saves_a_resizing_processor(use_fixture_mirror, tmp_path):
    """resnet18-w32-64px sees CIFAR upsampled to 64 px; stock transformers reloads model and processor."""
    from PIL import Image
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    from hfcompress.tasks.batches import preprocessed

    train(cfg("scratch:resnet18-w32-64px", tmp_path / "out", task="cifar10", max_train_samples=4))
    processor = AutoImageProcessor.from_pretrained(tmp_path / "out")
    pixels = processor(Image.new("RGB", (32, 32), (200, 10, 10)), return_tensors="pt")["pixel_values"]
    assert pixels.shape == (1, 3, 64, 64)
    model = AutoModelForImageClassification.from_pretrained(tmp_path / "out")
    assert model(pixel_values=pixels).logits.shape == (1, 10)
    augmented = preprocessed(get_task("cifar10"), "train", processor, limit=2, seed=0, train=True)
    assert augmented[0]["pixel_values"].shape == (3, 64, 64)


def test_label_mismatch_is_refused_before_training(use_fixture_mirror, tiny_bert_dir, tmp_path):
    with pytest.raises(TaskError, match="classifier for 2 labels but task 'mnli' needs 3.*--reinit-head"):
        train(cfg(tiny_bert_dir, tmp_path / "out", task="mnli"))
    assert not (tmp_path / "out").exists()


class Crash(Exception):
    """Stands in for a kill: escapes the Trainer mid-run."""


class StopAfter(TrainerCallback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kw):
        if state.global_step == self.step:
            raise Crash(f"stopped at step {self.step}")


class CountSteps(TrainerCallback):
    steps = 0

    def on_step_end(self, args, state, control, **kw):
        self.steps += 1


def test_interrupted_training_resumes_from_last_checkpoint(use_fixture_mirror, tiny_bert_dir, tmp_path):
    config = cfg(tiny_bert_dir, tmp_path / "out")  # 16 examples / batch 4 = 4 steps, checkpoint every 2
    with pytest.raises(Crash):
        train(config, callbacks=[StopAfter(3)])
    assert not (tmp_path / "out" / "config.json").exists(), "an interrupted run must not look complete"
    assert (tmp_path / "out" / "checkpoints" / "checkpoint-2").is_dir()
    with pytest.raises(HfCompressError, match="already holds checkpoints; pass --resume"):
        train(config)
    counter = CountSteps()
    result = train(config, resume=True, callbacks=[counter])
    assert counter.steps == 2, "resumed from checkpoint-2: only steps 3 and 4 run again"
    assert result["global_step"] == 4
    assert load(tmp_path / "out").record.stages[0].result["global_step"] == 4


def test_resume_without_checkpoint_is_an_error(use_fixture_mirror, tiny_bert_dir, tmp_path):
    with pytest.raises(HfCompressError, match="no checkpoint to resume from"):
        train(cfg(tiny_bert_dir, tmp_path / "out"), resume=True)


def test_training_a_saved_model_continues_its_record(use_fixture_mirror, tiny_bert_dir, tmp_path):
    """Fine-tuning a model hfcompress saved (e.g. after pruning) appends to its history."""
    train(cfg(tiny_bert_dir, tmp_path / "a"))
    train(cfg(tmp_path / "a", tmp_path / "b"))
    record = load(tmp_path / "b").record
    assert record.methods == ["finetune", "finetune"] and record.base_model == str(tiny_bert_dir)

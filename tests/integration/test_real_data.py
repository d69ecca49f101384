"""Integration: the real SST-2 / CIFAR-10 mirror and the real pretrained all-MiniLM-L6-v2."""

import json
import os
import subprocess
import sys

import pytest

from hfcompress.config import TrainConfig
from hfcompress.hub import load
from hfcompress.tasks import get_task
from hfcompress.training import train

pytestmark = pytest.mark.integration


def test_pretrained_minilm_evaluates_through_the_cli(real_mirror, minilm_path, tmp_path):
    out = tmp_path / "eval.json"
    proc = subprocess.run(
        [sys.executable, "-m", "hfcompress.cli.main", "evaluate", "--task", "sst2", "--model", minilm_path,
         "--limit", "64", "--batch-size", "32", "--repeats", "3", "--json", str(out)],
        capture_output=True, text=True, timeout=600, env={**os.environ, "HFCOMPRESS_DATASETS_MIRROR": real_mirror})
    assert proc.returncode == 0, proc.stderr[-2000:]
    record = json.loads(out.read_text())
    assert record["n_examples"] == 64 and record["loader"] == "pytorch"
    # the encoder's 22.7M parameters plus a fresh 2-way classification head
    assert 22_500_000 < record["efficiency"]["parameters"] < 23_000_000
    assert record["efficiency"]["size_on_disk_bytes"] > 80_000_000
    assert "accuracy" in proc.stdout and "latency median" in proc.stdout


@pytest.mark.slow
def test_brief_finetune_beats_chance_on_real_sst2(real_mirror, minilm_path, tmp_path):
    result = train(TrainConfig(task="sst2", model=minilm_path, output_dir=str(tmp_path / "teacher"), epochs=1,
                               learning_rate=3e-4, batch_size=16, max_train_samples=640, max_eval_samples=200,
                               max_length=64, save_steps=1000))
    # 200 real validation sentences, balanced classes: chance is 0.5; 0.65 is far outside its noise
    assert result["eval_accuracy"] > 0.65, result
    loaded = load(tmp_path / "teacher", task=get_task("sst2"))
    assert loaded.record.stages[0].method == "finetune"


def test_resnet_on_real_cifar10_trains_and_evaluates(real_mirror, tmp_path):
    result = train(TrainConfig(task="cifar10", model="scratch:resnet10-w16", output_dir=str(tmp_path / "resnet"),
                               epochs=1, learning_rate=3e-3, batch_size=64, max_train_samples=2000,
                               max_eval_samples=500, save_steps=1000))
    # ten balanced classes: chance is 0.1
    assert result["eval_accuracy"] > 0.2, result

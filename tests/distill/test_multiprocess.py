"""The distillation recipe on 2 CPU processes (gloo), launched the way the docs say.

``torchrun --nproc_per_node 2`` starts two processes; ``accelerate launch --cpu --num_processes 2``
would silently start one (measured), so this is the command the recipes document.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hfcompress.hub.load import load

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "distill.py"


@pytest.mark.slow
def test_two_cpu_processes_both_train_and_one_model_is_saved(tmp_path, tiny_teacher_dir, fixture_mirror):
    recipe = tmp_path / "r.yaml"
    out = tmp_path / "student"
    recipe.write_text(f"distill:\n  task: sst2\n  teacher: {tiny_teacher_dir}\n  output_dir: {out}\n"
                      "  student: {kind: layers, layers: [1, 3]}\n  losses: [{name: logits}, {name: hidden}]\n"
                      "  epochs: 1\n  batch_size: 2\n  max_length: 16\n  eval_at_end: false\n"
                      "  logging_steps: 1\n")
    env = {**os.environ, "HFCOMPRESS_DATASETS_MIRROR": str(fixture_mirror), "OMP_NUM_THREADS": "1",
           "CUDA_VISIBLE_DEVICES": "", "DISABLE_TQDM": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(SCRIPT), "--recipe", str(recipe)], capture_output=True, text=True, env=env, timeout=240)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    # 16 examples, batch 2 per process, 2 processes: 4 optimizer steps on each rank
    assert "[distill] rank 0/2 finished training: 4 steps" in log, log[-3000:]
    assert "[distill] rank 1/2 finished training: 4 steps" in log, log[-3000:]
    assert log.count("saved student to") == 1
    saved = [p for p in tmp_path.iterdir() if p.name != "r.yaml"]
    assert [p.name for p in saved] == ["student"]  # no second copy, no leftover partial folder
    record = load(out).record.stages[-1].result
    assert record["world_size"] == 2 and record["global_step"] == 4

"""benchmarks/text_augment.py: the recipe's narrow student and an augmented one, evaluated and tabled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.integration
def test_smoke_run_distils_both_variants_and_writes_the_table(real_mirror, minilm_path, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "text_augment.py"), "--smoke", "--task", "rte",
                           "--copies", "2", "--out", str(tmp_path)], env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads((tmp_path / "results" / "text_augment_rte.json").read_text())
    recipe, aug = data["variants"]
    assert recipe["variant"] == "recipe" and recipe["text_augmentation"] is None
    assert aug["text_augmentation"]["rows_after"] == 3 * aug["text_augmentation"]["rows"]
    assert aug["text_augmentation"]["replaced_words"] > 0
    for v in (recipe, aug):
        assert 0 <= v["validation"]["score"] <= 100 and 0 <= v["fit"]["score"] <= 100
        assert v["gap"] == pytest.approx(v["fit"]["score"] - v["validation"]["score"])
    md = (tmp_path / "results" / "text_augment_rte.md").read_text()
    assert "| recipe |" in md and "| + 2 copies |" in md

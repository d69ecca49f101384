"""benchmarks/vocab_ood.py: every vocabulary variant is pruned, evaluated clean and shifted, and tabled."""

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
def test_smoke_run_prunes_and_evaluates_every_variant(real_mirror, minilm_path, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "vocab_ood.py"), "--smoke", "--teacher",
                           minilm_path, "--out", str(tmp_path)], env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads((tmp_path / "results" / "vocab_ood.json").read_text())
    m = data["models"]
    assert set(m) == {"teacher", "train", "first", "text", "both"}
    # each addition keeps more tokens, never fewer; the first 10k ids add to the train split's tokens
    assert m["train"]["vocab_size"] < m["first"]["vocab_size"] <= m["both"]["vocab_size"] < m["teacher"]["vocab_size"]
    assert m["train"]["vocab_size"] <= m["text"]["vocab_size"] <= m["both"]["vocab_size"]
    assert m["text"]["stage"]["extra_text_lines"] == data["in_domain_text"]["lines"] == 64
    # the given text is never the evaluated shifted set
    given = set((tmp_path / "work" / "in-domain.txt").read_text(encoding="utf-8").splitlines())
    from hfcompress.tasks import get_task

    rt = get_task("rotten_tomatoes")
    assert not given & set(rt.load("train", limit=64)[rt.text_columns[0]])
    for v in m.values():
        assert 0 <= v["accuracy"] <= 1 and 0 <= v["ood_accuracy"] <= 1 and v["size_on_disk_bytes"] > 0
    assert "| + both |" in (tmp_path / "results" / "vocab_ood.md").read_text()

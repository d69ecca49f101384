"""`hfcompress quantize --method auto` on the benchmark teachers: what it measured here and what it chose.

    .venv/bin/python benchmarks/quantize_auto.py

Runs recipes/quantize-sst2-auto.yaml on benchmarks/work/teacher-sst2 and the same settings on
benchmarks/work/teacher-cifar10, capturing auto's own printed measurements and decision.
Writes benchmarks/results/quantize_auto.{json,md}.
"""

from __future__ import annotations

import contextlib
import io
import json

from common import ROOT, WORK, require_mirror, write_results

from hfcompress.api import run_method
from hfcompress.config import load_recipe


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", default="sst2,cifar10")
    args = ap.parse_args()
    require_mirror()
    base = load_recipe(ROOT / "recipes" / "quantize-sst2-auto.yaml").quantize
    runs, md = {}, ["# `quantize --method auto` on the benchmark teachers", "",
                    "Command: `.venv/bin/python benchmarks/quantize_auto.py` (recipe "
                    "`recipes/quantize-sst2-auto.yaml`; the CIFAR-10 run uses the same auto settings).", ""]
    for task in args.tasks.split(","):
        cfg = base.replace(task=task, model=str(WORK / f"teacher-{task}"), output_dir=str(WORK / "quantize" / f"{task}-auto"))
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            result = run_method("quantize", cfg, overwrite=True)
        log = printed.getvalue()
        print(log)
        runs[task] = {"config": cfg.to_dict(), "printed": log,
                      "result": json.loads(json.dumps(result.to_dict(), default=str))}
        md += [f"## {task}", "", "```", log.strip(), "```", ""]
    write_results("quantize_auto", runs, "\n".join(md) + "\n")


if __name__ == "__main__":
    main()

"""KD temperature x alpha sweeps: the shipped sweep recipes, run from the benchmark teachers.

    python benchmarks/sweep_kd.py --task sst2                                  # the full 4 x 3 grid
    python benchmarks/sweep_kd.py --task sst2 --temperature 1 4 --alpha 0.1 0.9 --train-samples 2000
    python benchmarks/sweep_kd.py --task cifar10 --temperature 1 4 --alpha 0.1 0.9 --train-samples 10000 --epochs 2

Reads recipes/sweeps/kd-<task>.yaml, points ``teacher`` at benchmarks/work/teacher-<task>, optionally
narrows the grid and the training budget (said in the report), and runs it with ``hfcompress.sweep``
(resumable: finished points are skipped). Writes benchmarks/results/sweep_kd_<task>.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import yaml
from common import ROOT, WORK, require_mirror, write_results

from hfcompress.sweep.run import run_sweep


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", choices=["sst2", "cifar10"], required=True)
    ap.add_argument("--temperature", type=float, nargs="+", help="narrow the recipe's temperature list")
    ap.add_argument("--alpha", type=float, nargs="+", help="narrow the recipe's alpha list")
    ap.add_argument("--train-samples", type=int, help="override max_train_samples (budget)")
    ap.add_argument("--epochs", type=float, help="override epochs (budget)")
    ap.add_argument("--eval-limit", type=int, help="evaluate each point on a seeded sample")
    ap.add_argument("--threads", type=int)
    args = ap.parse_args()
    require_mirror()
    recipe_path = ROOT / "recipes" / "sweeps" / f"kd-{args.task}.yaml"
    data = yaml.safe_load(recipe_path.read_text())
    section = data["distill"]
    section["teacher"] = str(WORK / f"teacher-{args.task}")
    changes = {}
    for key, value in (("temperature", args.temperature), ("alpha", args.alpha),
                       ("max_train_samples", args.train_samples), ("epochs", args.epochs), ("threads", args.threads)):
        if value is not None:
            section[key] = value
            changes[key] = value
    if args.eval_limit:
        data["evaluate"]["limit"] = args.eval_limit
        changes["eval_limit"] = args.eval_limit
    if args.threads:
        data["evaluate"]["threads"] = args.threads
    tag = "-".join(f"{k}={v}" for k, v in changes.items() if k not in ("threads",)).replace(" ", "") or "full"
    out = WORK / f"sweep-kd-{args.task}" / tag.replace("[", "").replace("]", "").replace(",", "_")
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(data, f)
    summary = run_sweep(f.name, out)
    Path(f.name).unlink()
    base_cmd = f"python benchmarks/sweep_kd.py --task {args.task}"
    flags = " ".join(f"--{k.replace('max_train_samples', 'train-samples').replace('_', '-')} "
                     f"{' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in changes.items())
    md = (f"# KD sweep on {args.task}: temperature x alpha\n\nCommand: `{base_cmd} {flags}`\n\n"
          f"Recipe: `{recipe_path.relative_to(ROOT)}` with teacher `benchmarks/work/teacher-{args.task}`"
          + (f"; changed from the recipe: {json.dumps(changes)}" if changes else "") + ".\n"
          f"alpha weighs the soft term (KL at temperature T, times T^2), 1 - alpha the hard-label CE. "
          f"Each point is a separate student, trained and evaluated by `hfcompress sweep` "
          f"(latency: each point's own evaluation, not interleaved; compare accuracy).\n\n"
          + (out / "summary.md").read_text().split("\n", 1)[1])
    write_results(f"sweep_kd_{args.task}", {"recipe": str(recipe_path.relative_to(ROOT)), "changes": changes,
                                          "summary": summary}, md)
    print(md)


if __name__ == "__main__":
    main()

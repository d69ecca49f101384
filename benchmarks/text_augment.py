"""TinyBERT's data augmentation for the narrow student of a small GLUE task: does it generalise better?

    python benchmarks/text_augment.py                       # STS-B, 4 copies, the recipe's optimizer steps
    python benchmarks/text_augment.py --task mrpc --copies 4
    python benchmarks/text_augment.py --task sst2 --train-samples 4000 --recipe-epochs 10 --epochs 2
    python benchmarks/text_augment.py --smoke --out /tmp/x  # a few steps (a CI-sized check)

The TinyBERT-style narrow student of ``recipes/glue/<task>.yaml`` (its ``distill`` section), distilled
from the GLUE teacher of ``benchmarks/glue.py`` (``benchmarks/work/glue/<task>/teacher``; rebuilt by
that script's stage when missing), two ways:

- ``recipe``: as the recipe says (the GLUE table's "narrow student"; the model of glue.py's stage is reused);
- ``augmented``: the same, with ``text_augmentation: {copies: N}`` (every whole word replaced with
  probability 0.4 by one of its 15 nearest words in the teacher's embeddings; the copies labelled by
  the teacher only) and, by default, the recipe's number of optimizer steps: the epochs divided by
  N + 1, so both see as many examples and only their diversity differs (``--epochs`` overrides).

``--train-samples N`` trains both on the same seeded N train rows (a small-data setting on a big task:
the recipe variant is then trained here, for ``--recipe-epochs``), results named ``<task>-<N>``.

Each is evaluated with the task's official metric on the whole validation split and on a seeded sample
of the train split (``fit``): a large fit-minus-validation gap is memorisation, which augmentation is
meant to cure. Writes ``benchmarks/results/text_augment_<task>.{json,md}``; each finished variant is
kept (``benchmarks/results/text_augment/<task>/<variant>.json``) and skipped on a re-run; an
interrupted distillation resumes from its last checkpoint.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from common import RESULTS, WORK, require_mirror
from glue import TITLES, TaskRun, atomic_write, cell

FIT_SAMPLE = 500  # train rows evaluated for the fit-vs-validation gap


def variant(run: TaskRun, name: str, out_dir: Path, results: Path, change: dict, reuse_glue: bool = False) -> dict:
    """One student: glue.py's narrow student (``reuse_glue``) or the recipe's with ``change``, evaluated."""
    from hfcompress.distill.config import DistillConfig
    from hfcompress.hub.record import CompressionRecord

    path = results / f"{name}.json"
    if path.is_file():
        print(f"[text_augment] {name}: done earlier ({path}), skipping", flush=True)
        return json.loads(path.read_text())
    start = time.perf_counter()
    if reuse_glue and not run.smoke:
        cfg = run.distill_config()
        run.need("narrow", run.narrow_dir)  # glue.py's narrow student is this variant
        out_dir = run.narrow_dir
    else:
        run.need("teacher", run.teacher_dir)
        data = {**run.distill_config().to_dict(), "output_dir": str(out_dir), **change}
        cfg = DistillConfig.from_dict(data, where="distill")
        run.run_resumable("distill", cfg)
    # the distillation's record, from config.json (no need to load the weights for it)
    stage = CompressionRecord.from_model_config(json.loads((out_dir / "config.json").read_text())).stages[-1]
    out = {"variant": name, "config": cfg.to_dict(), "model_dir": str(out_dir),
           "global_step": stage.result.get("global_step"), "train_seconds": stage.result.get("train_seconds"),
           "text_augmentation": stage.result.get("text_augmentation"),
           "validation": run.evaluation(out_dir),
           "fit": run.evaluation(out_dir, run.task.train_split, FIT_SAMPLE)}
    out["gap"] = out["fit"]["score"] - out["validation"]["score"]
    out["seconds"] = time.perf_counter() - start
    atomic_write(path, json.dumps(out, indent=2) + "\n")
    return out


def markdown(task: str, data: dict) -> str:
    t, rows = TITLES[task], data["variants"]
    lines = [f"# TinyBERT data augmentation for the narrow student: {t}"
             + (f", {data['train_samples']:,} train rows" if data.get("train_samples") else ""), "",
             f"Command: `{data['command']}`", "",
             f"The TinyBERT-style narrow student of `recipes/glue/{task}.yaml`, distilled from the GLUE teacher "
             f"({t} validation {cell(task, data['teacher']['validation']['metrics'])}, "
             f"train sample {cell(task, data['teacher']['fit']['metrics'])}) as the recipe says, and with "
             f"{data['copies']} word-replaced copies of every training row (`text_augmentation`), labelled by the "
             "teacher only. *Fit*: the official metric on a seeded sample of "
             f"{FIT_SAMPLE} train rows; *gap*: fit minus validation score (memorisation)"
             + (" (here the fit sample is drawn from the whole train split, so it is mostly rows the students "
                "never trained on)" if data.get("train_samples") else "") + ".", "",
             "| variant | validation | fit (train sample) | gap | share of teacher | rows per epoch | epochs | "
             "optimizer steps | train minutes |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        aug = r.get("text_augmentation") or {}
        n_rows = aug.get("rows_after") or data.get("train_samples") or "train split"
        label = r["variant"] if r["variant"] == "recipe" else f"+ {aug.get('copies')} copies"
        lines.append(f"| {label} | {cell(task, r['validation']['metrics'])} | {cell(task, r['fit']['metrics'])} "
                     f"| {r['gap']:+.1f} | {100 * r['validation']['score'] / data['teacher']['validation']['score']:.1f}% "
                     f"| {n_rows} | {r['config']['epochs']:g} | {r['global_step']} "
                     f"| {(r['train_seconds'] or 0) / 60:.1f} |")
    aug = next((r["text_augmentation"] for r in rows if r.get("text_augmentation")), None)
    if aug:
        lines += ["", f"Augmentation: {aug['replaced_words']:,} of {aug['replaceable_words']:,} replaceable words in "
                      f"the copies replaced ({100 * aug['replaced_share']:.0f}%), neighbours for "
                      f"{aug['neighbour_table_words']:,} distinct words."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="stsb", help="a GLUE task with a recipe under recipes/glue (default: stsb)")
    ap.add_argument("--copies", type=int, default=4, help="word-replaced copies per training row (default 4)")
    ap.add_argument("--epochs", type=float, default=None,
                    help="epochs of the augmented run (default: the recipe's epochs / (copies + 1), same steps)")
    ap.add_argument("--train-samples", type=int, default=None,
                    help="train both variants on this many seeded train rows (default: the whole split)")
    ap.add_argument("--recipe-epochs", type=float, default=None,
                    help="with --train-samples: epochs of the recipe variant (default: the recipe's)")
    ap.add_argument("--smoke", action="store_true", help="a few steps and small evaluation samples")
    ap.add_argument("--out", help="results and models under this folder (default: benchmarks/results and "
                                  "benchmarks/work/text-augment; with --smoke: a new temporary folder)")
    args = ap.parse_args()
    require_mirror()
    if args.copies < 1:
        raise SystemExit(f"--copies: must be >= 1, got {args.copies}")
    if args.out or args.smoke:
        base = Path(args.out or tempfile.mkdtemp(prefix="text-augment-smoke-"))
        results_root, work = base / "results", base / "work"
    else:
        results_root, work = RESULTS, WORK
    run = TaskRun(args.task, results_root, work / "glue", args.smoke, 1, 2)
    recipe_epochs = args.recipe_epochs or run.distill_config().epochs
    epochs = args.epochs or recipe_epochs / (args.copies + 1)
    subset = {} if args.train_samples is None or args.smoke else {"max_train_samples": args.train_samples}
    name = args.task + (f"-{args.train_samples}" if subset else "")
    results = results_root / "text_augment" / name
    teacher_path = results / "teacher.json"
    if not teacher_path.is_file():
        run.need("teacher", run.teacher_dir)
        teacher = {"validation": run.evaluation(run.teacher_dir),
                   "fit": run.evaluation(run.teacher_dir, run.task.train_split, FIT_SAMPLE)}
        atomic_write(teacher_path, json.dumps(teacher, indent=2) + "\n")
    teacher = json.loads(teacher_path.read_text())
    rows = [variant(run, "recipe", work / "text-augment" / name / "recipe", results,
                    {**subset, "epochs": recipe_epochs}, reuse_glue=not subset and args.recipe_epochs is None),
            variant(run, f"augmented-{args.copies}", work / "text-augment" / name / f"augmented-{args.copies}",
                    results, {**subset, "text_augmentation": {"copies": args.copies}, "epochs": epochs})]
    data = {"task": args.task, "copies": args.copies, "train_samples": args.train_samples, "teacher": teacher,
            "variants": rows, "command": "python benchmarks/text_augment.py " + " ".join(sys.argv[1:])}
    md = markdown(args.task, data)
    atomic_write(results_root / f"text_augment_{name}.json", json.dumps(data, indent=2) + "\n")
    atomic_write(results_root / f"text_augment_{name}.md", md)
    print(md)


if __name__ == "__main__":
    sys.exit(main())

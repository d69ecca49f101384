"""``hfcompress pipeline``: run a recipe's stages in order, evaluating after each (resumable)."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from hfcompress.config import load_recipe
    from hfcompress.errors import HfCompressError
    from hfcompress.evaluation.run import format_table
    from hfcompress.pipeline import run_pipeline

    recipe = load_recipe(args.recipe)
    if recipe.pipeline is None:
        raise HfCompressError(f"recipe {args.recipe} has no 'pipeline' section")
    overrides = {k: v for k, v in {"limit": args.limit, "threads": args.threads}.items() if v is not None}
    records = run_pipeline(recipe.pipeline, eval_overrides=overrides)
    for record in records:
        print(f"\n== {record['label']}\n{format_table(record)}")
    print(f"\nstage outputs and evaluation records in {recipe.pipeline.output_dir}; "
          f"compare them with: hfcompress report {recipe.pipeline.output_dir} --out <dir>")
    return 0


def register(sub) -> None:
    p = sub.add_parser("pipeline", help="run compression stages in sequence (e.g. distil, prune, quantize)", allow_abbrev=False)
    p.add_argument("--recipe", required=True)
    p.add_argument("--limit", type=int, help="evaluate each stage on a seeded sample of N examples")
    p.add_argument("--threads", type=int)
    p.set_defaults(func=run)

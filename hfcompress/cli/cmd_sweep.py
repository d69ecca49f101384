"""``hfcompress sweep``: run a recipe over a grid of numeric values (resumable)."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from hfcompress.sweep import run_sweep

    overrides = {k: v for k, v in {"limit": args.limit, "threads": args.threads}.items() if v is not None}
    summary = run_sweep(args.recipe, args.output_dir, eval_overrides=overrides)
    print(f"best point: {summary['best']}; summary in {args.output_dir}/summary.md")
    return 0


def register(sub) -> None:
    p = sub.add_parser("sweep", help="run a recipe with list-valued numeric fields as a grid, one record per point", allow_abbrev=False)
    p.add_argument("--recipe", required=True)
    p.add_argument("--output-dir", dest="output_dir", required=True)
    p.add_argument("--limit", type=int, help="evaluate each point on a seeded sample of N examples")
    p.add_argument("--threads", type=int)
    p.set_defaults(func=run)

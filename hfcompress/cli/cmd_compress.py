"""``hfcompress compress``: say the budget, get the best model (a measured search; see hfcompress.search)."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from hfcompress.cli.common import config_from
    from hfcompress.search import CompressConfig
    from hfcompress.search.run import search

    cfg = config_from(args, "compress", CompressConfig)
    summary = search(cfg, resume=args.resume, overwrite=args.overwrite)
    s = summary["chosen_search"]
    state = "meets every constraint" if summary["meets_target"] else "does NOT meet the target (closest kept)"
    print(f"\n{summary['chosen']}: {state}; {summary['candidates_tried']} candidate(s) tried in "
          f"{summary['wall_s']:.0f} s; speed-up x{s['speedup']:.2f} vs {summary['baseline']}"
          + (f"; full-split metric {s['full_metric']:.4f} ({s['full_drop']:+.2f} points)"
             if "full_metric" in s else ""))
    print(f"model: {summary['output_dir']}\nreport: {summary['report']}")
    return 0 if summary["meets_target"] else 1


def register(sub) -> None:
    from hfcompress.cli.common import add_config_flags, add_run_flags
    from hfcompress.search import CompressConfig

    p = sub.add_parser("compress", allow_abbrev=False,
                       help="say the budget (--max-drop, --target-speedup | --max-latency-ms | --max-size-mb), "
                            "get the best model: a measured search over pipelines, with its Pareto front")
    add_run_flags(p)
    add_config_flags(p, CompressConfig)
    p.set_defaults(func=run)

"""``hfcompress report``: a comparison report (Markdown + PNG plots) from evaluation records."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from hfcompress.hub.save import check_output_dir
    from hfcompress.report import build_report

    check_output_dir(args.out, inputs=args.inputs, overwrite=True, flag="--out")

    path = build_report(args.inputs, args.out, baseline=args.baseline, title=args.title)
    print(f"report written to {path}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("report", help="compare evaluation records: table of size/speed/accuracy + plots", allow_abbrev=False)
    p.add_argument("inputs", nargs="+", help="evaluation JSON files (hfcompress evaluate --json) or folders of them")
    p.add_argument("--out", required=True, help="output folder (report.md, report.json, *.png)")
    p.add_argument("--baseline", help="the reference record: its file, model or label (default: first uncompressed)")
    p.add_argument("--title", default="Compression report")
    p.set_defaults(func=run)

"""``hfcompress evaluate``: task metric plus latency, throughput, size, parameters, sparsity."""

from __future__ import annotations

import argparse

from hfcompress.cli.common import add_common, config_from

FIELDS = ["task", "model", "split", "limit", "batch_size", "max_length", "threads", "warmup", "repeats", "json",
          "datasets_mirror", "corruption"]


def run(args: argparse.Namespace) -> int:
    from hfcompress.config import EvalConfig
    from hfcompress.evaluation import evaluate_model, format_table

    cfg = config_from(args, "evaluate", EvalConfig, FIELDS)
    record = evaluate_model(cfg)
    print(format_table(record))
    if cfg.json:
        print(f"wrote {cfg.json}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="task metric + latency, throughput, size, parameters, sparsity")
    add_common(p)
    p.add_argument("--split", help="default: the task's evaluation split(s)")
    p.add_argument("--limit", type=int, help="evaluate a fixed seeded sample of N examples")
    p.add_argument("--batch-size", dest="batch_size", type=int)
    p.add_argument("--warmup", type=int, help="untimed batches before timing (default 3)")
    p.add_argument("--repeats", type=int, help="timed batches (default 20)")
    p.add_argument("--json", help="write the evaluation record to this file")
    p.add_argument("--corruption", help="evaluate under shift: NAME[:SEVERITY 1-5]; images: gaussian_noise, "
                                        "gaussian_blur, contrast, jpeg; text: char_noise")
    p.set_defaults(func=run)

"""``hfcompress evaluate``: task metric plus latency, throughput, size, parameters, sparsity."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from hfcompress.cli.common import config_from
    from hfcompress.config import EvalConfig
    from hfcompress.evaluation import evaluate_model, format_table

    cfg = config_from(args, "evaluate", EvalConfig)
    record = evaluate_model(cfg)
    print(format_table(record))
    if cfg.json:
        print(f"wrote {cfg.json}")
    return 0


def register(sub) -> None:
    from hfcompress.cli.common import add_config_flags
    from hfcompress.config import EvalConfig

    p = sub.add_parser("evaluate", help="task metric + latency, throughput, size, parameters, sparsity",
                       allow_abbrev=False)
    p.add_argument("--recipe", help="YAML recipe with an 'evaluate' section; flags override it")
    add_config_flags(p, EvalConfig)
    p.set_defaults(func=run)

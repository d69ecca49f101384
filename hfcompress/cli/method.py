"""The commands of the method families (train, distill, prune, quantize), generated from the registry.

Each ``cmd_<family>.py`` is one line: ``register = method_command("<family>")``. Flags come from the
family's config class (:func:`hfcompress.cli.common.add_config_flags`); running the command follows the
run contract, then evaluates what the family's registry entry says to evaluate, and prints.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def run_family(name: str, args: argparse.Namespace) -> int:
    from hfcompress.api import run_method
    from hfcompress.cli.common import config_from
    from hfcompress.methods.registry import config_class, evaluations, family

    cfg = config_from(args, name, config_class(name))
    result = run_method(name, cfg, resume=args.resume, overwrite=args.overwrite)
    if not result.summary.get("saved", True):
        return 0  # another process of a multi-process run saved and evaluates
    records = {}
    for label, ecfg in evaluations(name, cfg):
        from hfcompress.evaluation import evaluate_model, format_table

        records[label] = evaluate_model(ecfg)
        print(f"== {label}\n{format_table(records[label])}")
    if records:
        from hfcompress.evaluation import write_json
        from hfcompress.hub.card import write_card

        write_json(records, result.output_dir / f"{name}_eval.json")
        own = [r for r in records.values()
               if Path(r.get("model_path") or r.get("model")).resolve() == Path(result.output_dir).resolve()]
        if own:  # the model card carries the metrics its own evaluation measured
            write_card(result.output_dir, metrics=own[-1]["metrics"])
    print(json.dumps(result.to_dict(), indent=2, default=str))
    task = f"--task {cfg.task} " if isinstance(cfg.task, str) else ""  # a custom task comes back from the record
    print(f"{family(name).saved} {result.output_dir} (evaluate it with: hfcompress evaluate {task}"
          f"--model {result.output_dir})")
    return 0


def method_command(name: str):
    def register(sub) -> None:
        from hfcompress.cli.common import add_config_flags, add_run_flags
        from hfcompress.methods.registry import config_class, family

        p = sub.add_parser(name, help=family(name).help, allow_abbrev=False)
        add_run_flags(p)
        add_config_flags(p, config_class(name))
        p.set_defaults(func=lambda args: run_family(name, args))

    return register

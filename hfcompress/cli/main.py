"""``hfcompress <command>``: parses arguments, calls the library, prints.

Each command builds its typed config from an optional ``--recipe`` section overlaid with the
flags given on the command line, so the config's validation (which names the bad field) is the
only validation. User errors print one line and exit with status 2; bugs keep their traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Callable, Optional, Sequence

from hfcompress import __version__
from hfcompress.errors import HfCompressError

EXIT_USER_ERROR = 2


def _config_from(args: argparse.Namespace, section: str, cls, fields: Sequence[str]):
    data: dict[str, Any] = {}
    if getattr(args, "recipe", None):
        from hfcompress.config import load_recipe

        recipe = load_recipe(args.recipe)
        part = getattr(recipe, section)
        if part is None:
            raise HfCompressError(f"recipe {args.recipe} has no '{section}' section")
        data = part.to_dict()
    for name in fields:
        value = getattr(args, name, None)
        if value is not None:
            data[name] = value
    return cls.from_dict(data, where=f"{section} options" if not getattr(args, "recipe", None)
                         else f"recipe {os.path.basename(args.recipe)}: {section}")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--recipe", help="YAML recipe; flags given here override its values")
    p.add_argument("--task", help="glue task (cola, sst2, mrpc, qqp, stsb, mnli, qnli, rte, wnli), "
                                  "rotten_tomatoes or cifar10")
    p.add_argument("--model", help="local model folder, Hub id, or scratch:<architecture>")
    p.add_argument("--datasets-mirror", dest="datasets_mirror",
                   help="local mirror root of Hub datasets (default: $HFCOMPRESS_DATASETS_MIRROR)")
    p.add_argument("--threads", type=int, help="intra-op CPU threads (default: torch's choice)")
    p.add_argument("--max-length", dest="max_length", type=int, help="max tokens per text example")


TRAIN_FIELDS = ["task", "model", "output_dir", "epochs", "learning_rate", "batch_size", "eval_batch_size",
                "gradient_accumulation_steps", "max_train_samples", "max_eval_samples", "max_length", "seed",
                "save_steps", "threads", "datasets_mirror", "reinit_head", "augment", "logging_steps"]
EVAL_FIELDS = ["task", "model", "split", "limit", "batch_size", "max_length", "threads", "warmup", "repeats",
               "json", "datasets_mirror"]


def cmd_train(args: argparse.Namespace) -> int:
    from hfcompress.config import TrainConfig
    from hfcompress.training import train

    cfg = _config_from(args, "train", TrainConfig, TRAIN_FIELDS)
    result = train(cfg, resume=args.resume, overwrite=args.overwrite)
    print(json.dumps({k: v for k, v in result.items()}, indent=2, default=str))
    print(f"saved model to {cfg.output_dir}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from hfcompress.config import EvalConfig
    from hfcompress.evaluation import evaluate_model, format_table

    cfg = _config_from(args, "evaluate", EvalConfig, EVAL_FIELDS)
    record = evaluate_model(cfg)
    print(format_table(record))
    if cfg.json:
        print(f"wrote {cfg.json}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hfcompress", description="Distil, prune and quantize Hugging Face models, then measure them.")
    parser.add_argument("--version", action="version", version=f"hfcompress {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="fine-tune a model on a task (plain transformers.Trainer)")
    _common(p)
    p.add_argument("--output-dir", dest="output_dir")
    p.add_argument("--epochs", type=float)
    p.add_argument("--learning-rate", "--lr", dest="learning_rate", type=float)
    p.add_argument("--batch-size", dest="batch_size", type=int)
    p.add_argument("--eval-batch-size", dest="eval_batch_size", type=int)
    p.add_argument("--gradient-accumulation-steps", dest="gradient_accumulation_steps", type=int)
    p.add_argument("--max-train-samples", dest="max_train_samples", type=int)
    p.add_argument("--max-eval-samples", dest="max_eval_samples", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--save-steps", dest="save_steps", type=int)
    p.add_argument("--logging-steps", dest="logging_steps", type=int)
    p.add_argument("--reinit-head", dest="reinit_head", action="store_true", default=None,
                   help="replace a classifier head whose label count does not fit the task")
    p.add_argument("--no-augment", dest="augment", action="store_false", default=None,
                   help="no random crop/flip for image tasks")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in OUTPUT_DIR")
    p.add_argument("--overwrite", action="store_true", help="discard existing checkpoints and start again")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="task metric + latency, throughput, size, parameters, sparsity")
    _common(p)
    p.add_argument("--split", help="default: the task's evaluation split(s)")
    p.add_argument("--limit", type=int, help="evaluate a fixed seeded sample of N examples")
    p.add_argument("--batch-size", dest="batch_size", type=int)
    p.add_argument("--warmup", type=int, help="untimed batches before timing (default 3)")
    p.add_argument("--repeats", type=int, help="timed batches (default 20)")
    p.add_argument("--json", help="write the evaluation record to this file")
    p.set_defaults(func=cmd_evaluate)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except HfCompressError as exc:
        print(f"hfcompress {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"hfcompress {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

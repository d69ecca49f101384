"""``hfcompress train``: fine-tune a model on a task with a plain transformers.Trainer."""

from __future__ import annotations

import argparse
import json

from hfcompress.cli.common import add_common, add_training_flags, config_from

FIELDS = ["task", "model", "output_dir", "epochs", "learning_rate", "batch_size", "eval_batch_size",
          "gradient_accumulation_steps", "max_train_samples", "max_eval_samples", "max_length", "seed",
          "save_steps", "threads", "datasets_mirror", "reinit_head", "augment", "logging_steps"]


def run(args: argparse.Namespace) -> int:
    from hfcompress.config import TrainConfig
    from hfcompress.training import train

    cfg = config_from(args, "train", TrainConfig, FIELDS)
    result = train(cfg, resume=args.resume, overwrite=args.overwrite)
    print(json.dumps(result, indent=2, default=str))
    print(f"saved model to {cfg.output_dir}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("train", help="fine-tune a model on a task (plain transformers.Trainer)")
    add_common(p)
    add_training_flags(p)
    p.add_argument("--reinit-head", dest="reinit_head", action="store_true", default=None,
                   help="replace a classifier head whose label count does not fit the task")
    p.add_argument("--no-augment", dest="augment", action="store_false", default=None,
                   help="no random crop/flip for image tasks")
    p.set_defaults(func=run)

"""Helpers every CLI command uses: typed configs from recipe + flags, shared flags."""

from __future__ import annotations

import argparse
import os
from typing import Any, Sequence

from hfcompress.errors import HfCompressError


def config_from(args: argparse.Namespace, section: str, cls, fields: Sequence[str]):
    """``cls`` built from the recipe's ``section`` (if ``--recipe``) overlaid with the given flags.

    The config's own validation then reports any bad value with the name of its field.
    """
    data: dict[str, Any] = {}
    recipe_path = getattr(args, "recipe", None)
    if recipe_path:
        from hfcompress.config import load_recipe

        part = getattr(load_recipe(recipe_path), section)
        if part is None:
            raise HfCompressError(f"recipe {recipe_path} has no '{section}' section")
        data = part.to_dict()
    for name in fields:
        value = getattr(args, name, None)
        if value is not None:
            data[name] = value
    where = f"recipe {os.path.basename(recipe_path)}: {section}" if recipe_path else f"{section} options"
    return cls.from_dict(data, where=where)


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--recipe", help="YAML recipe; flags given here override its values")
    p.add_argument("--task", help="glue task (cola, sst2, mrpc, qqp, stsb, mnli, qnli, rte, wnli), "
                                  "rotten_tomatoes or cifar10")
    p.add_argument("--model", help="local model folder, Hub id, or scratch:<architecture>")
    p.add_argument("--datasets-mirror", dest="datasets_mirror",
                   help="local mirror root of Hub datasets (default: $HFCOMPRESS_DATASETS_MIRROR)")
    p.add_argument("--threads", type=int, help="intra-op CPU threads (default: torch's choice)")
    p.add_argument("--max-length", dest="max_length", type=int, help="max tokens per text example")


def add_training_flags(p: argparse.ArgumentParser) -> None:
    """The flags of every Trainer-based command (train, distill): budget, batch, checkpoints."""
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
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in OUTPUT_DIR")
    p.add_argument("--overwrite", action="store_true", help="discard existing checkpoints and start again")

"""``hfcompress prune``: remove attention heads, FFN neurons, conv channels, single weights, whole layers
or unused tokens."""

from __future__ import annotations

import argparse
import json

from hfcompress.cli.common import add_common, config_from

FIELDS = ["task", "model", "output_dir", "method", "importance", "amount", "count", "drop", "scope", "mac_reduction",
          "schedule", "storage", "vocab_samples", "score_samples", "finetune_epochs", "recovery",
          "recovery_temperature", "recovery_ce_weight", "max_train_samples", "learning_rate",
          "batch_size", "max_length", "seed", "eval_limit", "threads", "datasets_mirror"]


def run(args: argparse.Namespace) -> int:
    from hfcompress.prune.api import prune
    from hfcompress.prune.config import PruneConfig

    cfg = config_from(args, "prune", PruneConfig, FIELDS)
    result = prune(cfg)
    if "eval" in result:
        from hfcompress.evaluation.run import format_table

        print(format_table(result.pop("eval")))
    print(json.dumps(result, indent=2, default=str))
    print(f"saved pruned model to {cfg.output_dir}")
    return 0


def register(sub) -> None:
    from hfcompress.prune.config import METHODS

    p = sub.add_parser("prune", help="prune heads, FFN neurons, conv channels, weights (unstructured), layers or vocabulary")
    add_common(p)
    p.add_argument("--output-dir", dest="output_dir")
    p.add_argument("--method", choices=METHODS)
    p.add_argument("--importance", choices=["magnitude", "gradient"])
    p.add_argument("--amount", type=float, help="fraction of heads/neurons/channels/weights/layers to remove")
    p.add_argument("--count", type=int, help="heads / drop_layers: number of heads / layers to remove")
    p.add_argument("--drop", type=lambda s: [int(i) for i in s.split(",")],
                   help="drop_layers: comma-separated layer (ResNet: block) indices to remove, e.g. 1,3")
    p.add_argument("--scope", choices=["global", "layer"])
    p.add_argument("--mac-reduction", dest="mac_reduction", type=float, help="channels: e.g. 2 for half the MACs")
    p.add_argument("--schedule", choices=["oneshot", "gradual"])
    p.add_argument("--storage", choices=["packed", "dense"])
    p.add_argument("--vocab-samples", dest="vocab_samples", type=int,
                   help="vocab: train examples whose tokens are kept (default: the whole train split)")
    p.add_argument("--score-samples", dest="score_samples", type=int)
    p.add_argument("--finetune-epochs", dest="finetune_epochs", type=float, help="recovery fine-tune (0: none)")
    p.add_argument("--recovery", choices=["plain", "distill"],
                   help="recovery fine-tune on hard labels (plain) or distilled from the unpruned model (distill)")
    p.add_argument("--recovery-temperature", dest="recovery_temperature", type=float,
                   help="distill recovery: temperature of the logits (KD) term")
    p.add_argument("--recovery-ce-weight", dest="recovery_ce_weight", type=float,
                   help="distill recovery: weight of the hard-label term (the KD term weighs 1)")
    p.add_argument("--max-train-samples", dest="max_train_samples", type=int)
    p.add_argument("--learning-rate", "--lr", dest="learning_rate", type=float)
    p.add_argument("--batch-size", dest="batch_size", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--eval-limit", dest="eval_limit", type=int, help="examples to evaluate on (0: skip)")
    p.set_defaults(func=run)

"""``hfcompress distill``: distil a teacher into a smaller student (single process).

For several processes use ``torchrun --nproc_per_node N scripts/distill.py --recipe ...`` (or
``accelerate launch --multi_gpu --num_processes N``; on CPU ``accelerate launch --cpu --num_processes N``
starts one process only), see scripts/distill.py; this command runs the same code in one process.
"""

from __future__ import annotations

import argparse
import json

from hfcompress.cli.common import add_common, add_training_flags, config_from

FIELDS = ["task", "teacher", "output_dir", "epochs", "learning_rate", "batch_size", "eval_batch_size",
          "gradient_accumulation_steps", "max_train_samples", "max_eval_samples", "max_length", "seed",
          "save_steps", "logging_steps", "threads", "datasets_mirror", "temperature", "offline_teacher",
          "mixed_precision"]


def summary(result: dict) -> dict:
    """The result without the bulky evaluation records (they are in OUTPUT_DIR/distill_eval.json)."""
    out = {k: v for k, v in result.items() if not k.endswith("_eval") and k != "saved"}
    for who in ("teacher", "student"):
        ev = result.get(f"{who}_eval")
        if ev:
            out[who] = {**ev["metrics"], "throughput_examples_per_s": ev["efficiency"]["throughput_examples_per_s"],
                        "parameters": ev["efficiency"]["parameters"]}
    return out


def run(args: argparse.Namespace) -> int:
    from hfcompress.distill import DistillConfig, distill

    cfg = config_from(args, "distill", DistillConfig, FIELDS)
    result = distill(cfg, resume=args.resume, overwrite=args.overwrite)
    print(json.dumps(summary(result), indent=2, default=str))
    print(f"saved student to {cfg.output_dir}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("distill", help="knowledge distillation: train a small student from a teacher")
    add_common(p)
    p.add_argument("--teacher", help="teacher model folder or Hub id (fine-tuned on the task)")
    add_training_flags(p)
    p.add_argument("--temperature", type=float)
    p.add_argument("--offline-teacher", dest="offline_teacher", action="store_true", default=None,
                   help="precompute teacher logits once over the training set (logits/ce losses only)")
    p.add_argument("--mixed-precision", dest="mixed_precision", choices=["bf16", "fp16"])
    p.set_defaults(func=run)

#!/usr/bin/env python
"""Run a distillation recipe, in one process or several.

    accelerate launch scripts/distill.py --recipe recipes/distill-sst2-distilbert.yaml
    torchrun --nproc_per_node 2 scripts/distill.py --recipe recipes/distill-sst2-distilbert.yaml

Several CPU processes (gloo), measured with accelerate 1.15 / torch 2.13 on a machine without GPU:

    torchrun --nproc_per_node 2 scripts/distill.py --recipe R.yaml                      # 2 processes
    CUDA_VISIBLE_DEVICES= accelerate launch --multi_gpu --num_processes 2 scripts/distill.py --recipe R.yaml   # 2
    accelerate launch --cpu --num_processes 2 scripts/distill.py --recipe R.yaml        # silently ONE process

The Trainer takes the process group from the launcher's environment (the distillation asks
for ``use_cpu`` when there is no GPU, which is what makes it build a gloo group); each rank
trains on its shard of every batch; rank 0 evaluates and saves the one student.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing


def main(argv=None) -> int:
    from hfcompress.cli.cmd_distill import FIELDS, summary
    from hfcompress.cli.common import config_from
    from hfcompress.distill import DistillConfig, distill
    from hfcompress.errors import HfCompressError

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--recipe", required=True, help="YAML recipe with a 'distill' section")
    ap.add_argument("--teacher")
    ap.add_argument("--output-dir", dest="output_dir")
    ap.add_argument("--max-train-samples", dest="max_train_samples", type=int)
    ap.add_argument("--max-eval-samples", dest="max_eval_samples", type=int)
    ap.add_argument("--epochs", type=float)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--overwrite", action="store_true")
    args = ap.parse_args(argv)
    try:
        cfg = config_from(args, "distill", DistillConfig, FIELDS)
        result = distill(cfg, resume=args.resume, overwrite=args.overwrite)
    except HfCompressError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if result.get("saved"):  # the main process: it evaluated and saved
        print(json.dumps(summary(result), indent=2, default=str))
        print(f"saved student to {cfg.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

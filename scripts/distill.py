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
trains on its shard of every batch; rank 0 saves the one student and evaluates it.
Takes the same flags as ``hfcompress distill``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing


def main(argv=None) -> int:
    from hfcompress.cli.main import main as cli_main

    return cli_main(["distill", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())

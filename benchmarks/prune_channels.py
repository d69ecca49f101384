"""Benchmark: ResNet channel pruning on CIFAR-10 at 2x and 3x fewer MACs.

    flock /tmp/hfcompress-cpu.lock .venv/bin/python benchmarks/prune_channels.py

Channels are removed with torch-pruning's MetaPruner (DependencyGraph keeps residual branches,
shortcuts and batch norms consistent; L2-magnitude importance; classifier outputs kept), in small
steps until the MAC target is reached; each pruned model is saved (safetensors + per-module
shapes in the record), reloaded, evaluated; then the same pruning followed by a short recovery fine-tune,
evaluated again. Each model is one ``hfcompress.compress`` of the base model's folder. Uses the CIFAR-10 teacher if benchmarks/work/teacher-cifar10 is complete; otherwise
(``--base scratch``) it first trains a small ResNet briefly with ``hfcompress.training.train``.
"""

from __future__ import annotations

import time
from pathlib import Path

from prune_common import (RESULTS, TEACHER_CIFAR, WORK, add_speedups, base_args, environment, evaluate, pruned_row,
                          require_teacher, start, table, write_results)


def main() -> None:
    p = base_args(__doc__, model=TEACHER_CIFAR, eval_limit=2000, train_samples=3000, learning_rate=1e-3,
                  batch_size=128, score_samples=128)
    p.add_argument("--targets", type=float, nargs="+", default=[2.0, 3.0])
    p.add_argument("--base", choices=["auto", "teacher", "scratch"], default="auto")
    p.add_argument("--scratch-arch", default="scratch:resnet18-w16")
    p.add_argument("--scratch-samples", type=int, default=8000)
    p.add_argument("--scratch-epochs", type=float, default=2.0)
    args = start(p, teacher=False)  # checked below: it may be trained here first
    out_root = WORK / "prune-channels"
    teacher_ready = (RESULTS / "teacher_cifar10.json").is_file() and Path(args.model).is_dir()
    base_note = f"CIFAR-10 teacher at {args.model}"
    base_seconds = None
    if args.base == "scratch" or (args.base == "auto" and not teacher_ready):
        from hfcompress.api import run_method
        from hfcompress.config import TrainConfig

        args.model = str(out_root / "base")
        t = time.time()
        run_method("train", TrainConfig(task="cifar10", model=args.scratch_arch, output_dir=args.model,
                                        epochs=args.scratch_epochs, learning_rate=2e-3, batch_size=128,
                                        max_train_samples=args.scratch_samples, weight_decay=0.05,
                                        threads=args.threads, eval_at_end=False, save_steps=10 ** 6),
                   overwrite=True)
        base_seconds = time.time() - t
        base_note = (f"{args.scratch_arch} trained here from scratch for {args.scratch_epochs:g} epochs on "
                     f"{args.scratch_samples} CIFAR-10 train images ({base_seconds / 60:.1f} min) because the "
                     "CIFAR-10 teacher was not ready")
    require_teacher(args.model)
    base = evaluate(args.model, "cifar10", args)
    rows = [{"path": args.model, "target": 1.0, "recovery": False, **base, "macs": None, "speedup": 1.0, "delta_points": 0.0}]
    for target in args.targets:
        for ft in (False, True):
            folder = out_root / f"channels{target:g}x{'-ft' if ft else ''}"
            row, result = pruned_row(args.model, "cifar10", folder, args, base, method="channels",
                                     importance="magnitude", mac_reduction=target, finetune_epochs=1.0 if ft else 0.0)
            rows[0]["macs"] = result["macs_before"]
            rows.append({**row, "target": target, "recovery": ft, "macs": result["macs_after"],
                         "mac_reduction": result["mac_reduction"]})
    base_ms = add_speedups(rows, args.model, "cifar10", args)
    data = {"benchmark": "prune_channels", "model": args.model, "base": base_note, "task": "cifar10",
            "eval_examples": base["n_examples"], "importance": "L2 magnitude (torch-pruning MagnitudeImportance)",
            "recovery": {"train_samples": args.train_samples, "epochs": 1, "learning_rate": args.learning_rate,
                         "batch_size": args.batch_size},
            "baseline": base, "baseline_latency_ms_interleaved": base_ms, "rows": rows,
            "environment": environment(args)}
    md = f"""# Convolution-channel pruning: CIFAR-10 ResNet

Command: `flock /tmp/hfcompress-cpu.lock .venv/bin/python benchmarks/prune_channels.py`

- Base model: {base_note}.
- Pruning: torch-pruning MetaPruner over the DependencyGraph (residual/shortcut/BN-coupled channels removed together),
  L2-magnitude importance, classifier outputs kept, in small steps until MACs (per 32x32 image, torch-pruning's
  counter) fall by the target factor. Saved as safetensors + per-module shapes in the record; reloaded for evaluation.
- Recovery: one epoch over {args.train_samples} CIFAR-10 train images (crop + flip), lr {args.learning_rate},
  batch {args.batch_size}.
- Evaluation: {base['n_examples']} CIFAR-10 test images (seeded sample). Latency: batch 32 images, fp32, {args.threads} threads;
  all models timed alternating round by round in one process ({3 * args.repeats} rounds, median); speedup = unpruned latency
  ({base_ms:.1f} ms) / pruned latency. Shared machine: ratios are noisy (~+-10%).

""" + table(rows, [("target", "MAC target", ".0f"), ("recovery", "recovery", ""), ("accuracy", "accuracy", ".4f"),
                   ("delta_points", "delta (points)", "+.2f"), ("macs", "MACs / image", ","),
                   ("parameters", "params", ","), ("latency_ms", "latency ms", ".1f"), ("speedup", "speedup", ".2f"),
                   ("size_mib", "MiB", ".2f")])
    write_results("prune_channels", data, md)


if __name__ == "__main__":
    main()

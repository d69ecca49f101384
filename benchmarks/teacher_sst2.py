"""Fine-tune all-MiniLM-L6-v2 on SST-2 (the teacher for the compression benchmarks).

    python benchmarks/teacher_sst2.py [--train-samples 20000] [--epochs 1]

Trains on a seeded random subset of the SST-2 train split (the full 67k split takes about an
hour per epoch on 2 CPU cores), evaluates on the full validation split (872 sentences) with the
same code as ``hfcompress evaluate``, and writes benchmarks/results/teacher_sst2.{json,md}.
The model lands in benchmarks/work/teacher-sst2 for the other benchmarks.
"""

from __future__ import annotations

import argparse
import time

from common import WORK, minilm_path, require_mirror, write_results

from hfcompress.config import EvalConfig, TrainConfig
from hfcompress.evaluation import evaluate_model
from hfcompress.training import train


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train-samples", type=int, default=20000)
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--learning-rate", type=float, default=1e-4)
    ap.add_argument("--output-dir", default=str(WORK / "teacher-sst2"))
    args = ap.parse_args()
    require_mirror()
    cfg = TrainConfig(task="sst2", model=minilm_path(), output_dir=args.output_dir, epochs=args.epochs,
                      learning_rate=args.learning_rate, batch_size=32, max_train_samples=args.train_samples,
                      save_steps=200, logging_steps=50, seed=42)
    start = time.perf_counter()
    train_result = train(cfg, overwrite=True)
    train_seconds = time.perf_counter() - start
    record = evaluate_model(EvalConfig(task="sst2", model=args.output_dir, batch_size=32))
    acc = record["metrics"]["accuracy"]
    eff = record["efficiency"]
    data = {"benchmark": "teacher_sst2", "train_config": cfg.to_dict(), "train_seconds": train_seconds,
            "train_loss": train_result["train_loss"], "evaluation": record}
    md = f"""# Teacher: all-MiniLM-L6-v2 fine-tuned on SST-2

Command: `python benchmarks/teacher_sst2.py --train-samples {args.train_samples} --epochs {args.epochs}`

| what | value |
| --- | --- |
| training data | {args.train_samples} SST-2 train phrases (seeded sample), {args.epochs} epoch(s), lr {args.learning_rate}, batch 32 |
| training time | {train_seconds / 60:.1f} min on {record['environment']['threads']} threads ({record['environment']['cpu']}) |
| SST-2 validation accuracy | **{acc:.4f}** ({record['n_examples']} sentences) |
| latency (batch {eff['latency_batch_size']}) | median {eff['latency_ms_median']:.1f} ms, p90 {eff['latency_ms_p90']:.1f} ms |
| throughput | {eff['throughput_examples_per_s']:.1f} examples/s |
| size on disk | {eff['size_on_disk_bytes'] / 2**20:.1f} MiB |
| parameters | {eff['parameters']:,} |
| versions | torch {record['environment']['torch']}, transformers {record['environment']['transformers']} |
"""
    write_results("teacher_sst2", data, md)
    print(md)


if __name__ == "__main__":
    main()

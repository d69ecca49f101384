"""Shared pieces of the pruning benchmarks: the SST-2 teacher, evaluation rows, tables, plots.

Every number comes from ``hfcompress.evaluation.evaluate_model`` on the model *reloaded from
disk* (so each row also exercises save + rebuild + strict safetensors load). Latency ratios
are taken within one run, same batch (32) and thread count, against the unpruned model
measured in that same run.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("DISABLE_TQDM", "1")

from benchmarks.common import RESULTS, WORK, require_mirror, write_results  # noqa: E402

TEACHER_SST2 = WORK / "teacher-sst2"
TEACHER_CIFAR = WORK / "teacher-cifar10"


def base_args(description: str, **defaults) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--model", default=str(defaults.get("model", TEACHER_SST2)))
    p.add_argument("--eval-limit", type=int, default=defaults.get("eval_limit"),
                   help="evaluation examples (default: the whole validation split)")
    p.add_argument("--train-samples", type=int, default=defaults.get("train_samples", 800),
                   help="examples of the recovery fine-tune (one epoch)")
    p.add_argument("--score-samples", type=int, default=defaults.get("score_samples", 256))
    p.add_argument("--learning-rate", type=float, default=defaults.get("learning_rate", 1e-4))
    p.add_argument("--batch-size", type=int, default=defaults.get("batch_size", 32))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    return p


def evaluate(path: Path, task: str, args) -> dict:
    from hfcompress.config import EvalConfig
    from hfcompress.evaluation.run import evaluate_model

    rec = evaluate_model(EvalConfig(task=task, model=str(path), limit=args.eval_limit, batch_size=32,
                                    threads=args.threads, warmup=2, repeats=args.repeats))
    eff = rec["efficiency"]
    return {"accuracy": rec["metrics"]["accuracy"], "n_examples": rec["n_examples"],
            "latency_ms": eff["latency_ms_median"], "size_mib": eff["size_on_disk_bytes"] / 2 ** 20,
            "parameters": eff["parameters"], "nonzero_parameters": eff["nonzero_parameters"],
            "weight_sparsity": eff["weight_sparsity"]}


def environment(args) -> dict:
    import torch
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__, "threads": args.threads,
            "cpu": platform.processor() or platform.machine(), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def load_teacher(path: str, task_name: str):
    import hfcompress
    from hfcompress.tasks import get_task

    if not Path(path).is_dir():
        sys.exit(f"teacher model not found at {path}; train it first (benchmarks/teacher.py)")
    task = get_task(task_name)
    loaded = hfcompress.load(path, task=task)
    record = loaded.record
    if record is None:
        from hfcompress.hub.record import CompressionRecord

        record = CompressionRecord(base_model=path, task=task.name)
    return task, loaded.model, loaded.preprocessor, record


def fresh(model):
    return copy.deepcopy(model)


def table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    head = "| " + " | ".join(c[1] for c in columns) + " |\n| " + " | ".join("---" for _ in columns) + " |\n"
    body = ""
    for r in rows:
        cells = []
        for key, _, fmt in columns:
            v = r.get(key)
            cells.append("–" if v is None else format(v, fmt) if fmt else str(v))
        body += "| " + " | ".join(cells) + " |\n"
    return head + body


def plot(name: str, series: dict[str, tuple[list[float], list[float]]], xlabel: str, baseline: float,
         title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for label, (xs, ys) in series.items():
        ax.plot(xs, ys, marker="o", label=label)
    ax.axhline(baseline, color="grey", linestyle="--", label="unpruned")
    ax.axhline(baseline - 0.01, color="grey", linestyle=":", label="unpruned - 1 point")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.png"
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


__all__ = ["RESULTS", "WORK", "require_mirror", "write_results", "json"]


def interleaved_latency(paths: dict[str, str], task_name: str, args, rounds: int = 3) -> dict[str, float]:
    """Latency (ms per batch of 32) of several models, measured round-robin in one process.

    The machine is shared, so load changes over minutes; timing every model in each round and
    taking the median over rounds keeps the ratios (speedups) fair: each model sees the same load.
    """
    import statistics

    import hfcompress
    from hfcompress.evaluation.efficiency import measure_latency, set_threads
    from hfcompress.tasks import get_task

    set_threads(args.threads)
    task = get_task(task_name)
    loaded = {k: hfcompress.load(p, task=task) for k, p in paths.items()}
    first = next(iter(loaded.values()))
    raw = task.load(task.eval_splits[0], limit=32)
    data = task.preprocess(raw, first.preprocessor, max_length=128, train=False)
    batch = task.collator(first.preprocessor)([data[i] for i in range(len(data))])
    batch.pop("labels", None)
    times: dict[str, list[float]] = {k: [] for k in loaded}
    for _ in range(rounds):
        for k, model in loaded.items():
            times[k].append(measure_latency(lambda: model.predict(batch), warmup=1,
                                            repeats=args.repeats)["latency_ms_median"])
    return {k: statistics.median(v) for k, v in times.items()}


def add_speedups(rows: list[dict], base_path: str, task_name: str, args) -> float:
    """Replace each row's latency by the interleaved measurement; speedup = base / row. Returns base ms."""
    lat = interleaved_latency({"__base__": base_path, **{r["path"]: r["path"] for r in rows}}, task_name, args)
    for r in rows:
        r["latency_ms"] = lat[r["path"]]
        r["speedup"] = lat["__base__"] / lat[r["path"]]
    return lat["__base__"]

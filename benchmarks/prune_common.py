"""Shared pieces of the pruning benchmarks: arguments, one pruned row, interleaved speed-ups, tables, plots.

Every row is one call of the public API, ``hfcompress.compress(teacher folder, {"prune": {...}})``
(load, score, prune, optionally recover, save), and every number comes from ``hfcompress.evaluation`` on
the model ``compress`` returns, *reloaded from disk* (so each row also exercises save + rebuild + strict
safetensors load). Latency ratios are taken within one run, same batch (32) and thread count, against
the unpruned model timed in that same run, all models alternating round by round
(``benchmarks/speed.py::time_models``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("DISABLE_TQDM", "1")

from common import RESULTS, WORK, require_mirror, write_results  # noqa: E402

TEACHER_SST2 = WORK / "teacher-sst2"
TEACHER_CIFAR = WORK / "teacher-cifar10"

__all__ = ["RESULTS", "WORK", "TEACHER_SST2", "TEACHER_CIFAR", "add_speedups", "base_args", "environment", "evaluate",
           "plot", "prune", "pruned_row", "require_mirror", "require_teacher", "start", "table", "write_results"]


def base_args(description: str, **defaults) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(defaults.get("model", TEACHER_SST2)))
    p.add_argument("--eval-limit", type=int, default=defaults.get("eval_limit"),
                   help="evaluation examples (default: the whole validation split)")
    p.add_argument("--train-samples", type=int, default=defaults.get("train_samples", 800),
                   help="examples of the recovery fine-tune (one epoch)")
    p.add_argument("--score-samples", type=int, default=defaults.get("score_samples", 256))
    p.add_argument("--learning-rate", type=float, default=defaults.get("learning_rate", 1e-4))
    p.add_argument("--batch-size", type=int, default=defaults.get("batch_size", 32))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5,
                   help="timed calls per evaluation; the interleaved timing runs 3 x this many rounds")
    return p


def require_teacher(path: str) -> None:
    if not Path(path).is_dir():
        sys.exit(f"teacher model not found at {path}; train it first (benchmarks/teacher.py)")


def start(parser: argparse.ArgumentParser, teacher: bool = True) -> argparse.Namespace:
    """Parse the command line, check the data mirror (and the teacher), fix threads and the seed."""
    args = parser.parse_args()
    require_mirror()
    if teacher:
        require_teacher(args.model)
    import torch

    from hfcompress.evaluation.efficiency import set_threads

    set_threads(args.threads)
    torch.manual_seed(0)
    return args


def prune(model: str, task: str, folder: Path, args, **fields):
    """Prune ``model`` (a folder) with ``hfcompress.compress`` into ``folder``; ``fields`` are the ``prune``
    recipe section's (the shared budget comes from ``args``). Returns ``(pruned LoadedModel, stage result)``;
    a recovery's result also carries its training time (``seconds``)."""
    import hfcompress
    from transformers import TrainerCallback

    class TrainTime(TrainerCallback):
        seconds = None

        def on_train_begin(self, *a, **kw):
            self.start = time.perf_counter()

        def on_train_end(self, *a, **kw):
            self.seconds = time.perf_counter() - self.start

    timer = TrainTime()
    section = {"score_samples": args.score_samples, "max_train_samples": args.train_samples,
               "learning_rate": args.learning_rate, "batch_size": args.batch_size, "threads": args.threads, **fields}
    pruned = hfcompress.compress(model, {"prune": section}, task=task, output_dir=folder, overwrite=True,
                                 callbacks=[timer])
    result = pruned.record.stages[-1].result
    if "recovery" in result:
        result["recovery"]["seconds"] = timer.seconds
    return pruned, result


def pruned_row(model: str, task: str, folder: Path, args, base: dict, **fields) -> tuple[dict, dict]:
    """:func:`prune` then :func:`evaluate`: ``(row, stage result)``; the row holds the evaluation, the change
    against ``base`` (the unpruned model's evaluation) and the recovery's training time."""
    pruned, result = prune(model, task, folder, args, **fields)
    ev = evaluate(pruned, task, args)
    row = {"path": str(folder), **ev, "delta_points": 100 * (ev["accuracy"] - base["accuracy"]),
           "speedup": base["latency_ms"] / ev["latency_ms"],
           "train_seconds": result.get("recovery", {}).get("seconds")}
    print(f"{folder.name}: {row}", flush=True)
    return row, result


def evaluate(model, task: str, args) -> dict:
    """One row's numbers from hfcompress's evaluation of ``model`` (a folder, or the LoadedModel
    :func:`prune` returned: already reloaded from disk)."""
    from hfcompress.config import EvalConfig
    from hfcompress.evaluation import evaluate_loaded, evaluate_model
    from hfcompress.tasks import get_task

    cfg = EvalConfig(task=task, model=str(getattr(model, "path", model)), limit=args.eval_limit, batch_size=32,
                     threads=args.threads, warmup=2, repeats=args.repeats)
    rec = evaluate_model(cfg) if isinstance(model, (str, Path)) else evaluate_loaded(model, get_task(task), cfg)
    eff = rec["efficiency"]
    return {"accuracy": rec["metrics"]["accuracy"], "n_examples": rec["n_examples"],
            "latency_ms": eff["latency_ms_median"], "size_mib": eff["size_on_disk_bytes"] / 2 ** 20,
            "parameters": eff["parameters"], "nonzero_parameters": eff["nonzero_parameters"],
            "weight_sparsity": eff["weight_sparsity"]}


def environment(args) -> dict:
    from hfcompress.evaluation.efficiency import environment as env

    return {**env(args.threads), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def add_speedups(rows: list[dict], base_path: str, task_name: str, args) -> float:
    """Replace each row's latency by the interleaved measurement (batch 32); speedup = base / row.
    Returns the base latency (ms)."""
    from speed import time_models

    from hfcompress.tasks import get_task

    models = {"__base__": base_path, **{r["path"]: r["path"] for r in rows}}
    timing, _ = time_models(get_task(task_name), models, [32], rounds=3 * args.repeats)
    for r in rows:
        r["latency_ms"] = timing[r["path"]]["batch_32"]["latency_ms_median"]
        r["speedup"] = timing[r["path"]]["batch_32"]["speedup"]
    return timing["__base__"]["batch_32"]["latency_ms_median"]


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

"""One evaluation: task quality and efficiency of one model, measured in the same run.

Produces an evaluation record (a JSON-ready dict) that the report and benchmarks read:
``{schema, task, splits, model, loader, compression, n_examples, metrics, efficiency,
environment, created}``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from torch.utils.data import DataLoader

from hfcompress.config import EvalConfig
from hfcompress.evaluation.robustness import corrupt, parse_corruption
from hfcompress.evaluation.efficiency import environment, measure_latency, parameter_stats, set_threads, size_on_disk
from hfcompress.hub.load import LoadedModel, load
from hfcompress.errors import TaskError
from hfcompress.tasks import Task, get_task, task_key

SCHEMA = "hfcompress.eval/1"


def _metric_suffix(task: Task, split: str) -> str:
    """'' for the task's first eval split; else e.g. '_mismatched' for validation_mismatched."""
    if split == task.eval_splits[0]:
        return ""
    return "_" + split.removeprefix("validation_")


def predict_split(loaded: LoadedModel, task: Task, dataset, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Logits and labels over a preprocessed dataset."""
    loader = DataLoader(dataset, batch_size=batch_size, collate_fn=task.collator(loaded.preprocessor))
    all_logits, all_labels = [], []
    for batch in loader:
        labels = batch.pop("labels")
        all_logits.append(loaded.predict(batch).float().cpu().numpy())
        all_labels.append(labels.cpu().numpy())
    return np.concatenate(all_logits), np.concatenate(all_labels)


def evaluate_loaded(loaded: LoadedModel, task: Task, cfg: EvalConfig) -> dict[str, Any]:
    """Evaluate an already loaded model (so callers can evaluate a model they hold in memory)."""
    threads = set_threads(cfg.threads)
    splits = [cfg.split] if cfg.split else list(task.eval_splits)
    metrics: dict[str, float] = {}
    n_examples = 0
    latency_batch = None
    for split in splits:
        raw = task.load(split, limit=cfg.limit, mirror=cfg.datasets_mirror)
        if cfg.corruption:
            raw = corrupt(raw, task, cfg.corruption)
        data = task.preprocess(raw, loaded.preprocessor, max_length=cfg.max_length, train=False)
        logits, labels = predict_split(loaded, task, data, cfg.batch_size)
        suffix = _metric_suffix(task, split) if not cfg.split else ""
        metrics.update({k + suffix: v for k, v in task.compute_metrics((logits, labels)).items()})
        n_examples += len(labels)
        if latency_batch is None:
            first = [data[i] for i in range(min(cfg.batch_size, len(data)))]
            latency_batch = task.collator(loaded.preprocessor)(first)
            latency_batch.pop("labels", None)

    n_latency = int(next(iter(latency_batch.values())).shape[0])
    timing = measure_latency(lambda: loaded.predict(latency_batch), warmup=cfg.warmup, repeats=cfg.repeats)
    efficiency = {
        **timing,
        "latency_batch_size": n_latency,
        "throughput_examples_per_s": n_latency / (timing["latency_ms_median"] / 1000.0),
        "size_on_disk_bytes": size_on_disk(loaded.weight_files()),
        **parameter_stats(loaded.weight_tensors()),
    }
    return {
        "schema": SCHEMA,
        "task": task.describe(),  # a built-in name, or the dataset description of a custom task
        "task_name": task.name,
        "splits": splits,
        "limit": cfg.limit,
        "corruption": cfg.corruption,
        "model": loaded.source,
        "model_path": str(loaded.path),
        "loader": loaded.loader,
        "compression": loaded.record.to_dict() if loaded.record else None,
        "n_examples": n_examples,
        "metrics": metrics,
        "main_metric": task.main_metric,
        "efficiency": efficiency,
        "environment": environment(threads),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def resolve_eval_task(cfg_task: Any, model_path: str, mirror: Optional[str] = None) -> Task:
    """The task to evaluate on: ``cfg_task`` when given, else the one in the model's compression record.

    ``cfg_task`` is what a config's ``task`` field holds (a built-in name, a TaskSpec or its dict,
    or None); ``model_path`` a model folder or Hub id. A model hfcompress trained on custom data
    records the resolved dataset description, so ``evaluate --model OUT`` finds its task again.
    """
    if cfg_task is not None:
        return get_task(cfg_task, mirror=mirror)
    from hfcompress.hub.load import resolve_model_dir
    from hfcompress.hub.record import CompressionRecord
    from hfcompress.tasks import task_from_record

    config_file = Path(resolve_model_dir(model_path)) / "config.json"
    try:
        config = json.loads(config_file.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise TaskError(f"no task given, and the task of {model_path} cannot be read from {config_file}: {exc}") from None
    record = CompressionRecord.from_model_config(config)
    value = record_task(record) if record is not None else None
    if value is None:
        raise TaskError(f"no task given (--task NAME or --dataset ...), and {model_path} has no hfcompress record "
                        "naming its task")
    return task_from_record(value, mirror=mirror)


def record_task(record) -> Any:
    """The task a compression record names: its ``task`` field (a name or a dataset description).

    Records written before every writer stored ``task.describe()`` hold a custom task's display
    name there; the description is then found in the latest stage whose params hold one (the
    ``finetune`` and ``distill`` stages store their config, task included).
    """
    from hfcompress.tasks import TASKS

    task = record.task
    if isinstance(task, dict) or (isinstance(task, str) and task.lower() in TASKS):
        return task
    for stage in reversed(record.stages):
        described = (stage.params or {}).get("task")
        if isinstance(described, dict) and described.get("dataset"):
            return described
    return task


def evaluate_model(cfg: EvalConfig) -> dict[str, Any]:
    """Load ``cfg.model`` through the loader registry and evaluate it on ``cfg.task``.

    With ``cfg.task`` None, the task comes from the model's record (:func:`resolve_eval_task`).
    """
    task = resolve_eval_task(cfg.task, cfg.model, mirror=cfg.datasets_mirror)
    from hfcompress.methods.registry import model_kind

    kind = model_kind(cfg.model, task)
    if kind is not None:  # an embedding model: scored by the cosine similarity of its embeddings
        task = kind.task(task)
    if cfg.split is not None and cfg.split not in task.splits:
        raise TaskError(f"task {task.name!r} has no split {cfg.split!r}; splits: {', '.join(task.splits)}")
    if cfg.corruption:
        parse_corruption(cfg.corruption, task.modality)  # fail before loading the model
    set_threads(cfg.threads)
    loaded = load(cfg.model, task=task)
    record = evaluate_loaded(loaded, task, cfg)
    if cfg.json:
        write_json(record, cfg.json)
    return record


def write_json(data: Any, path: str | os.PathLike) -> None:
    """Write JSON atomically (a temporary file renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)


def format_table(record: dict[str, Any]) -> str:
    """A readable terminal table of one evaluation record."""
    eff = record["efficiency"]
    shift = f", corruption {record['corruption']}" if record.get("corruption") else ""
    rows = [("task", f"{task_key(record['task'])} ({', '.join(record['splits'])}, {record['n_examples']} examples{shift})"),
            ("model", f"{record['model']} [{record['loader']}]")]
    rows += [(k, f"{v:.4f}") for k, v in record["metrics"].items()]
    rows += [
        ("latency median", f"{eff['latency_ms_median']:.2f} ms / batch of {eff['latency_batch_size']}"),
        ("latency p90", f"{eff['latency_ms_p90']:.2f} ms"),
        ("throughput", f"{eff['throughput_examples_per_s']:.1f} examples/s"),
        ("size on disk", f"{eff['size_on_disk_bytes'] / 2**20:.2f} MiB"),
        ("parameters", f"{eff['parameters']:,} ({eff['nonzero_parameters']:,} non-zero)"),
        ("sparsity", f"{eff['sparsity']:.2%} (weight matrices {eff['weight_sparsity']:.2%})"),
        ("threads", f"{record['environment']['threads']} ({record['environment']['cpu']})"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)

"""Comparison rows from evaluation records: size reduction, speedup and metric change vs a baseline.

Everything here is computed from the JSON records ``hfcompress evaluate`` writes; nothing is
assumed. Speedups are only meaningful between records measured on the same machine with the same
threads and batch size, so each row says whether it is comparable with the baseline.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Optional

from hfcompress.errors import HfCompressError

SCHEMA_PREFIX = "hfcompress.eval/"


def read_records(paths: list[str | Path]) -> list[dict[str, Any]]:
    """Evaluation records from files (or folders searched for *.json), each checked for its schema."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(p.rglob("*.json")))
        elif p.is_file():
            files.append(p)
        else:
            raise HfCompressError(f"report input not found: {p}")
    records = []
    for f in files:
        try:
            data = json.loads(f.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise HfCompressError(f"{f}: not a readable JSON file ({exc})") from None
        if isinstance(data, dict) and str(data.get("schema", "")).startswith(SCHEMA_PREFIX):
            from hfcompress.tasks.spec import task_key

            data["task"] = task_key(data.get("task"))  # a custom task's description -> its name
            data.setdefault("_file", str(f))
            records.append(data)
    if not records:
        raise HfCompressError(f"no evaluation records (schema {SCHEMA_PREFIX}*) in {', '.join(map(str, paths))}")
    return records


def method_label(record: dict[str, Any]) -> str:
    """A short name for what was done to a model: its label, else its compression stages."""
    if record.get("label"):
        return str(record["label"])
    stages = [s["method"] for s in ((record.get("compression") or {}).get("stages") or [])
              if s["method"] != "finetune"]
    return " + ".join(stages) if stages else "baseline"


@dataclasses.dataclass
class Row:
    method: str
    model: str
    task: str
    metric_name: str
    metric: float
    metric_change: Optional[float]  # in points (x100) vs baseline
    size_mib: float
    size_reduction: Optional[float]  # baseline size / this size
    parameters: int
    sparsity: float
    latency_ms: float
    speedup: Optional[float]  # baseline latency / this latency
    throughput: float
    comparable: bool  # same cpu, threads and latency batch as the baseline
    is_baseline: bool = False


def _comparable(a: dict, b: dict) -> bool:
    ea, eb = a["environment"], b["environment"]
    return (ea.get("cpu"), ea.get("threads"), a["efficiency"]["latency_batch_size"]) == \
           (eb.get("cpu"), eb.get("threads"), b["efficiency"]["latency_batch_size"])


def pick_baseline(records: list[dict], baseline: Optional[str] = None) -> dict:
    """The record named by ``baseline`` (file, model or label), else the first uncompressed one."""
    if baseline:
        for r in records:
            if baseline in (r.get("_file"), r.get("model"), r.get("label"), method_label(r)):
                return r
        raise HfCompressError(f"--baseline {baseline!r} matches no record (give its file, model or label)")
    for r in records:
        if method_label(r) == "baseline":
            return r
    return records[0]


def build_rows(records: list[dict], baseline: Optional[str] = None) -> list[Row]:
    """One row per record of the baseline's task, baseline first."""
    base = pick_baseline(records, baseline)
    metric_name = base["main_metric"]
    rows = []
    for r in records:
        if r["task"] != base["task"]:
            continue
        eff, base_eff = r["efficiency"], base["efficiency"]
        comparable = _comparable(r, base)
        rows.append(Row(
            method=method_label(r), model=r["model"], task=r["task"], metric_name=metric_name,
            metric=r["metrics"][metric_name],
            metric_change=100 * (r["metrics"][metric_name] - base["metrics"][metric_name]),
            size_mib=eff["size_on_disk_bytes"] / 2**20,
            size_reduction=base_eff["size_on_disk_bytes"] / eff["size_on_disk_bytes"] if eff["size_on_disk_bytes"] else None,
            parameters=eff["parameters"], sparsity=eff.get("weight_sparsity", 0.0),
            latency_ms=eff["latency_ms_median"],
            speedup=base_eff["latency_ms_median"] / eff["latency_ms_median"] if comparable else None,
            throughput=eff["throughput_examples_per_s"], comparable=comparable, is_baseline=r is base,
        ))
    rows.sort(key=lambda row: not row.is_baseline)
    return rows


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of points not dominated when lower x (cost) and higher y (quality) are better."""
    front = []
    for i, (x, y) in enumerate(points):
        dominated = any((x2 <= x and y2 >= y) and (x2 < x or y2 > y) for j, (x2, y2) in enumerate(points) if j != i)
        if not dominated:
            front.append(i)
    return front


def markdown_table(rows: list[Row]) -> str:
    def opt(value, fmt):
        return "n/a" if value is None else format(value, fmt)

    head = (f"| method | size (MiB) | size reduction | parameters | weight sparsity | latency (ms) | speedup | "
            f"throughput (ex/s) | {rows[0].metric_name} | change (points) |\n"
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    lines = [head]
    for r in rows:
        name = f"**{r.method}** (baseline)" if r.is_baseline else r.method
        lines.append(f"| {name} | {r.size_mib:.1f} | {opt(r.size_reduction, '.2f')}x | {r.parameters:,} | "
                     f"{r.sparsity:.1%} | {r.latency_ms:.1f} | {opt(r.speedup, '.2f')}{'x' if r.speedup else ''} | "
                     f"{r.throughput:.1f} | {r.metric:.4f} | {opt(r.metric_change, '+.2f')} |")
    return "\n".join(lines)


def condition(record: dict[str, Any], clean_task: str) -> str:
    """What a record measured relative to ``clean_task``: "clean", a corruption, another (OOD) task, or both."""
    parts = [record["task"]] if record["task"] != clean_task else []
    if record.get("corruption"):
        parts.append(record["corruption"])
    return " + ".join(parts) or "clean"


def is_clean(record: dict[str, Any]) -> bool:
    return not record.get("corruption")


@dataclasses.dataclass
class RobustnessRow:
    method: str
    model: str
    clean: float
    shifted: dict[str, Optional[float]]  # condition -> metric under that shift (None: not measured)
    kept: dict[str, Optional[float]]  # condition -> shifted / clean, the share of accuracy kept under shift
    is_baseline: bool = False


def robustness_rows(records: list[dict], base: dict) -> tuple[list[str], list[RobustnessRow]]:
    """Shifted records (corruptions, out-of-distribution tasks) matched to clean ones by model path.

    A model's shifted records are the records of the same ``model`` whose task or corruption
    differs from its clean record on the baseline's task; compression methods are compared by how
    much of their own clean accuracy they keep under each shift, beside the baseline's.
    """
    task = base["task"]
    clean = [r for r in records if r["task"] == task and is_clean(r)]
    conditions = list(dict.fromkeys(condition(r, task) for r in records
                                    if r["model"] in {c["model"] for c in clean} and condition(r, task) != "clean"))
    rows = []
    for c in clean:
        metric = c["main_metric"]
        shifted = {}
        for cond in conditions:
            match = [r for r in records if r["model"] == c["model"] and condition(r, task) == cond]
            shifted[cond] = match[-1]["metrics"].get(match[-1]["main_metric"]) if match else None
        value = c["metrics"][metric]
        rows.append(RobustnessRow(method=method_label(c), model=c["model"], clean=value, shifted=shifted,
                                  kept={k: (v / value if v is not None and value else None) for k, v in shifted.items()},
                                  is_baseline=c is base))
    rows.sort(key=lambda row: not row.is_baseline)
    return conditions, rows


def robustness_table(conditions: list[str], rows: list[RobustnessRow]) -> str:
    """Metric under each shift, and in brackets the share of the model's own clean metric it keeps."""
    head = "| method | clean | " + " | ".join(conditions) + " |\n| --- | ---: | " + " | ".join("---:" for _ in conditions) + " |"
    lines = [head]
    for r in rows:
        name = f"**{r.method}** (baseline)" if r.is_baseline else r.method
        cells = ["n/a" if r.shifted[c] is None else f"{r.shifted[c]:.4f} ({r.kept[c]:.1%})" for c in conditions]
        lines.append(f"| {name} | {r.clean:.4f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)

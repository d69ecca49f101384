"""``build_report``: evaluation records in, a Markdown report with a table and plots out."""

from __future__ import annotations

import re

import dataclasses
import json
from pathlib import Path
from typing import Optional

from hfcompress.hub.save import atomic_directory
from hfcompress.report.plots import sparsity_plot, tradeoff_plot
from hfcompress.report.tables import (build_rows, is_clean, markdown_table, pick_baseline, read_records,
                                      robustness_rows, robustness_table)


def build_report(inputs: list[str | Path], out_dir: str | Path, baseline: Optional[str] = None,
                 title: str = "Compression report", *, budget: Optional[dict] = None,
                 marks: Optional[dict] = None, notes: Optional[str] = None) -> Path:
    """Write ``report.md``, ``report.json`` and PNG plots for each task found in ``inputs``.

    Optional: ``budget`` ({"metric_floor", "latency_ms", "size_mib"}) drawn as lines on the plots;
    ``marks`` ({method label: suffix}, e.g. " (chosen)") appended to those rows' names; ``notes``, a
    paragraph placed under the title (why a model was chosen).
    """
    budget, marks = budget or {}, marks or {}
    all_records = read_records(list(inputs))
    # the comparison table is per task on clean data; corrupted and out-of-distribution records of the
    # same models go to a robustness table under the task whose models they share
    records = [r for r in all_records if is_clean(r)]
    # (a task whose models all belong to a task listed before it, e.g. rotten_tomatoes after sst2)
    tasks: list[str] = []
    for t in dict.fromkeys(r["task"] for r in records):
        models = {r["model"] for r in records if r["task"] == t}
        if not any(models <= {r["model"] for r in records if r["task"] == u} for u in tasks):
            tasks.append(t)
    out_dir = Path(out_dir)
    sections, summary = [f"# {title}\n"] + ([f"{notes}\n"] if notes else []), {}
    with atomic_directory(out_dir) as tmp:
        for task in tasks:
            task_records = [r for r in records if r["task"] == task]
            # a named baseline belongs to one task; the other tasks fall back to their first uncompressed record
            named = baseline if len(tasks) == 1 or any(
                baseline in (r.get("_file"), r.get("model"), r.get("label")) for r in task_records) else None
            base = pick_baseline(task_records, named)
            rows = build_rows(task_records, baseline=base.get("_file"))
            chosen = None
            for r in rows:
                if r.method in marks:
                    chosen = r.method
                    r.method += marks[r.method]
            timed = [r for r in rows if r.comparable]  # latencies from another setting are not plotted
            stem = re.sub(r"[^\w.-]+", "_", task)  # custom task names can hold '/'
            env = base["environment"]
            setting = (f"batch {base['efficiency']['latency_batch_size']}, {env.get('threads')} thread(s), "
                       f"{env.get('cpu')}")
            floor = budget.get("metric_floor")
            lat, size = budget.get("latency_ms"), budget.get("size_mib")
            plots = [tradeoff_plot(timed, "latency_ms", "latency (ms, median per batch)", tmp / f"{stem}_latency.png",
                                   setting=setting, metric_floor=floor, x_limit=lat, chosen=chosen,
                                   x_limit_label=None if lat is None else f"latency limit {lat:.2f} ms"),
                     tradeoff_plot(rows, "size_mib", "size on disk (MiB)", tmp / f"{stem}_size.png", log_x=True,
                                   setting=setting, metric_floor=floor, x_limit=size, chosen=chosen,
                                   x_limit_label=None if size is None else f"size limit {size:g} MiB")]
            if any(r.sparsity > 0 for r in rows):
                plots.append(sparsity_plot(rows, tmp / f"{stem}_sparsity.png"))
            notes = []
            if any(r["efficiency"].get("latency_normalized_to_baseline") for r in task_records):
                notes.append("Latencies marked by the search were timed interleaved with the baseline and are "
                             "given on the baseline's time scale (its median over the measured ratio), so that "
                             "every speedup is the ratio measured side by side; raw medians are in the records.")
            if not all(r.comparable for r in rows):
                notes.append("Speedup is n/a where a record was measured on another CPU, thread count or batch "
                             "size than the baseline: timings are only compared within one setting.")
            sections.append(
                f"## {task}\n\nBaseline: `{base['model']}`. Timings: batch {base['efficiency']['latency_batch_size']}, "
                f"{env.get('threads')} threads, {env.get('cpu')}; torch {env.get('torch')}, "
                f"transformers {env.get('transformers')}.\n\n{markdown_table(rows)}\n\n"
                + "".join(f"{n}\n\n" for n in notes)
                + "".join(f"![{p.stem}]({p.name})\n\n" for p in plots))
            summary[task] = [dataclasses.asdict(r) for r in rows]
            conditions, robust = robustness_rows(all_records, base)
            if conditions:
                sections.append(
                    f"### Robustness ({task})\n\n{base['main_metric']} under distribution shift; in brackets, "
                    "the share of the model's own clean score it keeps. A compressed model is as robust as the "
                    "baseline when its share matches the baseline's.\n\n" + robustness_table(conditions, robust) + "\n")
                summary[f"{task}:robustness"] = [dataclasses.asdict(r) for r in robust]
        (tmp / "report.md").write_text("\n".join(sections))
        (tmp / "report.json").write_text(json.dumps(summary, indent=2) + "\n")
    return out_dir / "report.md"

"""Running a grid: one run + one evaluation record per point, resumable, with a summary.

Layout of ``output_dir``: ``points/<point>/`` (the model each point produced), ``records/<point>.json``
(its evaluation record, with ``label`` and ``sweep`` fields), ``summary.md`` / ``summary.json`` (all
points, best marked). A point whose record exists is finished and is not run again, so an
interrupted sweep continues where it stopped.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Callable, Optional

from hfcompress.config import EvalConfig
from hfcompress.evaluation import evaluate_model, write_json
from hfcompress.sweep.grid import load_sweep

def run_sweep(recipe: str | Path, output_dir: str | Path, eval_overrides: Optional[dict] = None,
              runner: Optional[Callable] = None) -> dict[str, Any]:
    section, points, others = load_sweep(recipe)  # validates every point before anything runs
    output_dir = Path(output_dir)
    if runner is None:
        from hfcompress.api import run_method

        def runner(cfg):
            return run_method(section, cfg)
    run = runner
    eval_base = {**(others.get("evaluate") or {}), **(eval_overrides or {})}
    rows = []
    for point in points:
        record_path = output_dir / "records" / f"{point.name}.json"
        if record_path.is_file():
            print(f"sweep: {point.name} already done, skipping")
        else:
            model_dir = output_dir / "points" / point.name
            cfg = dataclasses.replace(point.config, output_dir=str(model_dir))
            print(f"sweep: running {point.name}")
            run(cfg)
            ecfg = EvalConfig.from_dict({**eval_base, "task": cfg.task, "model": str(model_dir)},
                                        where="sweep evaluate")
            record = evaluate_model(ecfg)
            record.update(label=point.name, sweep=point.values)
            write_json(record, record_path)
        record = json.loads(record_path.read_text())
        rows.append({"point": point.name, **point.values, "metric": record["main_metric"],
                     "value": record["metrics"][record["main_metric"]],
                     "latency_ms": record["efficiency"]["latency_ms_median"]})
    best = max(rows, key=lambda r: r["value"])
    summary = {"section": section, "points": rows, "best": best["point"]}
    write_json(summary, output_dir / "summary.json")
    keys = list(points[0].values)
    lines = [f"# Sweep over {', '.join(keys) or 'nothing'} ({section})\n",
             "| " + " | ".join([*keys, best["metric"], "latency (ms)", ""]) + " |",
             "|" + " --- |" * (len(keys) + 3)]
    for r in rows:
        mark = "**best**" if r["point"] == best["point"] else ""
        lines.append("| " + " | ".join([*(f"{r[k]:g}" for k in keys), f"{r['value']:.4f}",
                                        f"{r['latency_ms']:.1f}", mark]) + " |")
    (output_dir / "summary.md").write_text("\n".join(lines) + "\n")
    return summary

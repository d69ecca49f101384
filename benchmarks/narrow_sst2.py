"""The narrow-student target of issue 15 (>= 96% of the teacher at >= 4x, batch 32, PyTorch vs PyTorch),
read on students narrowed by pruning: ``recipes/narrow-sst2.yaml`` run from the fast pipeline's stage 03.

    python benchmarks/perf_sst2.py        # first: trains the teacher's pipelines (benchmarks/work/perf-sst2)
    python benchmarks/narrow_sst2.py      # re-run to resume (finished stages are kept)

Every model stays in PyTorch eager. Timing as in perf_sst2 (``speed.time_split_passes``: the whole SST-2
validation split, b1 = the first 100 sentences one by one, b32 = all 872 in batches of 32, each model in
its own process, all alternating round by round), at 1 and 2 threads. Writes
benchmarks/results/narrow_sst2.{json,md}.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import ROOT, WORK, evaluate_cached, require_mirror, write_results
from speed import time_split_passes

from hfcompress.config import load_recipe
from hfcompress.evaluation.efficiency import environment, set_threads
from hfcompress.pipeline.run import PipelineConfig, run_pipeline
from hfcompress.tasks import get_task

RECIPE = "narrow-sst2.yaml"


def ratio(x) -> str:
    return "n/a" if x is None else f"{x:.2f}x"
TARGET = {"share": 0.96, "speedup_b32": 4.0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--work", default=str(WORK / "perf-sst2"), help="perf_sst2's models folder")
    ap.add_argument("--teacher", default=str(WORK / "teacher-sst2"))
    args = ap.parse_args()
    require_mirror()
    work, teacher = Path(args.work), Path(args.teacher)
    start = work / "fast" / "03-prune"
    if not (start / "config.json").is_file():
        raise SystemExit(f"{start} missing: run python benchmarks/perf_sst2.py first")
    base = load_recipe(ROOT / "recipes" / RECIPE).pipeline.to_dict()
    cfg = PipelineConfig.from_dict({**base, "model": str(start), "output_dir": str(WORK / "narrow-sst2")},
                                   where=f"{RECIPE}: pipeline")
    records = run_pipeline(cfg)
    task = get_task("sst2")
    # the teacher on ONNX Runtime fp32 (perf_sst2 exported it) is timed beside eager, for reference:
    # the target itself is read PyTorch vs PyTorch
    ort = {n: work / n for n in ("teacher-ort", "teacher-ort-O2") if (work / n / "model.onnx").is_file()}
    timed = {"teacher": teacher, **ort, "fast/03-prune": start,
             **{f"narrow/{s.name}": Path(s.output_dir) for s in cfg.plan()}}
    models = {"teacher": teacher, "fast/03-prune": start,
              **{f"narrow/{s.name}": Path(s.output_dir) for s in cfg.plan()}}
    evals = {"teacher": evaluate_cached(work / "teacher.eval.json", cfg.eval_config(str(teacher))),
             "fast/03-prune": evaluate_cached(work / "fast" / "03-prune.eval.json", cfg.eval_config(str(start))),
             **{f"narrow/{s.name}": r for s, r in zip(cfg.plan(), records)}}
    metric = evals["teacher"]["main_metric"]
    t_metric = evals["teacher"]["metrics"][metric]
    data = {"task": "sst2", "recipe": RECIPE, "target": TARGET, "models": {}, "timing": {}}
    for name, rec in evals.items():
        data["models"][name] = {"path": str(models[name]), metric: rec["metrics"][metric],
                                "share_of_teacher": rec["metrics"][metric] / t_metric,
                                "parameters": rec["efficiency"]["parameters"]}
    tables = []
    for threads in [int(t) for t in args.threads.split(",")]:
        set_threads(threads)
        timing = time_split_passes(task, {n: str(p) for n, p in timed.items()}, task.eval_splits[0], args.rounds)
        env = environment(threads)
        for t in timing.values():
            for kind in ("batch_1", "batch_32"):
                ms = t[kind]["pass_ms_median"]
                t[kind]["speedup"] = timing["teacher"][kind]["pass_ms_median"] / ms
                t[kind]["speedup_vs_ort"] = min(timing[n][kind]["pass_ms_median"] for n in ort) / ms if ort else None
        data["timing"][str(threads)] = {"environment": env, "models": timing}
        rows = [f"| {n} | {m[metric]:.4f} | {m['share_of_teacher']:.1%} | {m['parameters'] / 1e6:.2f} M | "
                f"{timing[n]['batch_1']['ms_per_call']:.2f} | {timing[n]['batch_1']['speedup']:.2f}x | "
                f"{timing[n]['batch_32']['ms_per_call']:.2f} | {timing[n]['batch_32']['speedup']:.2f}x | "
                f"{ratio(timing[n]['batch_1']['speedup_vs_ort'])} | {ratio(timing[n]['batch_32']['speedup_vs_ort'])} | "
                f"{'met' if m['share_of_teacher'] >= TARGET['share'] and timing[n]['batch_32']['speedup'] >= TARGET['speedup_b32'] else 'missed'} |"
                for n, m in data["models"].items()]
        tables += [f"### {threads} thread{'s' if threads > 1 else ''} ({env['cpu']}; "
                   f"{', '.join(env.get('cpu_flags', [])) or 'flags n/a'})", "",
                   f"| model | {metric} | share of teacher | parameters | b1 ms | b1 vs teacher | b32 ms | "
                   "b32 vs teacher | b1 vs ORT | b32 vs ORT | target (>= 96% at >= 4x b32 vs teacher) |",
                   "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |", *rows,
                   *[f"| {n} (reference) | | | | {timing[n]['batch_1']['ms_per_call']:.2f} | "
                     f"{timing[n]['batch_1']['speedup']:.2f}x | {timing[n]['batch_32']['ms_per_call']:.2f} | "
                     f"{timing[n]['batch_32']['speedup']:.2f}x | {ratio(timing[n]['batch_1']['speedup_vs_ort'])} | "
                     f"{ratio(timing[n]['batch_32']['speedup_vs_ort'])} | |" for n in ort], ""]
    md = "\n".join([
        "# Narrow students by pruning, PyTorch vs PyTorch (SST-2)", "",
        f"Command: `python benchmarks/narrow_sst2.py --threads {args.threads} --rounds {args.rounds}`", "",
        f"Teacher: `benchmarks/work/teacher-sst2`, PyTorch eager. `fast/03-prune`: the fast pipeline's student "
        f"after halving its FFN and heads; `narrow/*`: `recipes/{RECIPE}` from there (FFN halved again, then "
        f"heads). {metric} on all 872 SST-2 validation sentences; timing: whole passes, {args.rounds} rounds, each "
        "model in its own process, alternating; b1 = 100 sentences one by one, b32 = all 872 in batches of 32. "
        "*vs teacher*: against the teacher in PyTorch eager (the target's reading); *vs ORT*: against the faster "
        "of the teacher's ONNX Runtime fp32 exports (as exported and O2), the strongest baseline.", "",
        *tables])
    write_results("narrow_sst2", data, md)
    print(md)


if __name__ == "__main__":
    main()

"""The headline pipelines, measured: the shipped pipeline recipe run from the benchmark teacher, then
teacher and every stage compared in one run (interleaved timing, robustness, the comparison report).

    .venv/bin/python benchmarks/pipeline.py --task sst2      # recipes/pipeline-sst2.yaml
    .venv/bin/python benchmarks/pipeline.py --task cifar10   # recipes/pipeline-cifar10.yaml

(The SST-2 pipeline ends in ONNX Runtime INT8, which runs in the one environment beside transformers.) The recipe's
``model`` and ``output_dir`` are replaced by benchmarks/work/teacher-<task> and
benchmarks/work/pipeline-<task>; everything else is the recipe as users get it. Re-running resumes:
finished stages and finished evaluations are not redone (timing always is).

Writes benchmarks/results/pipeline_<task>.{json,md} (the headline: size, speed and accuracy vs the
teacher, and the targets met or missed) and benchmarks/results/pipeline_<task>_report/ (the
``hfcompress report`` table, robustness table and plots, built from the records with this run's
interleaved batch-32 latencies).
"""

from __future__ import annotations

import argparse
import copy
import shutil

from common import RESULTS, ROOT, WORK, evaluate_cached, onnx_level, require_mirror, write_results
from common import ort_teacher as ort_baseline
from speed import time_models

from hfcompress.config import EvalConfig, load_recipe
from hfcompress.evaluation import write_json
from hfcompress.evaluation.efficiency import environment, set_threads
from hfcompress.pipeline.run import PipelineConfig, run_pipeline
from hfcompress.report import build_report
from hfcompress.tasks import get_task

# (task to evaluate on, corruption, split, limit): distribution shifts for the robustness table
SHIFTS = {
    "sst2": [("rotten_tomatoes", None, "train", 1000), ("sst2", "char_noise:2", None, None)],
    "cifar10": [("cifar10", f"{c}:3", None, 1000) for c in ("gaussian_noise", "gaussian_blur", "contrast", "jpeg")],
}
# the targets for the headline pipeline (vs the teacher, ratios in one run)
TARGETS = {"size_reduction": 8.0, "speedup": 4.0, "max_accuracy_drop_points": 2.0}


def stage_label(name: str, cfg) -> str:
    method = getattr(cfg, "method", None)
    return f"{name}" + (f" ({method})" if method else "")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", choices=sorted(SHIFTS), required=True)
    ap.add_argument("--threads", type=int, default=1, help="threads for every timing (same for all models)")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--eval-threads", type=int, default=None)
    args = ap.parse_args()
    require_mirror()
    task = get_task(args.task)
    recipe_path = ROOT / "recipes" / f"pipeline-{args.task}.yaml"
    teacher = WORK / f"teacher-{args.task}"
    out = WORK / f"pipeline-{args.task}"
    if not (teacher / "config.json").is_file():
        raise SystemExit(f"{teacher} missing: run python benchmarks/teacher.py --task {args.task}")
    base = load_recipe(recipe_path).pipeline
    cfg = PipelineConfig.from_dict({**base.to_dict(), "model": str(teacher), "output_dir": str(out)}, where="pipeline")
    records = run_pipeline(cfg)
    stages = cfg.plan()

    # the strongest baseline a user already has: the teacher on ONNX Runtime fp32, with the same graph
    # optimisation as the pipeline's last ONNX stage (none if it sets none)
    ort_teacher = ort_baseline(cfg.task, teacher, out / "00-teacher-onnx-fp32", onnx_level(stages))

    # clean evaluation of the teacher with the pipeline's own evaluation settings
    eval_kw = {"threads": args.eval_threads} if args.eval_threads else {}
    models = {"teacher": teacher, "teacher-ort": ort_teacher, **{s.name: s.output_dir for s in stages}}
    labels = {"teacher": "teacher", "teacher-ort": "teacher, ONNX Runtime fp32",
              **{s.name: stage_label(s.name, s.config) for s in stages}}
    clean = {"teacher": evaluate_cached(out / "00-teacher.eval.json", cfg.eval_config(str(teacher), **eval_kw),
                                        "teacher"),
             "teacher-ort": evaluate_cached(out / "00-teacher-onnx-fp32.eval.json",
                                            cfg.eval_config(str(ort_teacher), **eval_kw), "teacher-ort")}
    for s, rec in zip(stages, records):
        clean[s.name] = rec

    # robustness: every model under every shift (cached per model and shift)
    shifted: dict[str, dict[str, dict]] = {name: {} for name in models}
    for name, path in models.items():
        for shift_task, corruption, split, limit in SHIFTS[args.task]:
            tag = shift_task if shift_task != args.task else corruption.replace(":", "-")
            ecfg = EvalConfig(task=shift_task, model=str(path), split=split, limit=limit, corruption=corruption,
                              repeats=3, batch_size=32, **eval_kw)
            shifted[name][tag] = evaluate_cached(out / "robustness" / f"{name}.{tag}.eval.json", ecfg, labels[name])

    # timing: every model on the same batch, interleaved, same threads
    threads = set_threads(args.threads)
    timing, timing_lines = time_models(task, {n: str(p) for n, p in models.items()}, [1, 32], args.rounds)

    # report inputs: the records with this run's interleaved batch-32 latency (comparable by construction)
    report_in = out / "report-records"
    shutil.rmtree(report_in, ignore_errors=True)
    report_in.mkdir(parents=True)
    env = environment(threads)
    for name in models:
        for tag, rec in [("clean", clean[name]), *shifted[name].items()]:
            rec = copy.deepcopy(rec)
            t = timing[name]["batch_32"]
            rec["efficiency"].update(latency_ms_median=t["latency_ms_median"], latency_ms_p90=t["latency_ms_p90"],
                                     latency_batch_size=32, throughput_examples_per_s=t["throughput_examples_per_s"])
            rec["environment"] = {**rec["environment"], "threads": threads, "cpu": env["cpu"]}
            rec["label"] = labels[name]
            rec["model"] = str(models[name])  # one spelling per model: the report matches shifted records by it
            rec.pop("_file", None)
            write_json(rec, report_in / f"{name}.{tag}.json")
    report = build_report([report_in], RESULTS / (f"pipeline_{args.task}" + ("" if threads == 1 else f"_{threads}threads")
                                                  + "_report"), baseline="teacher",
                          title=f"Pipeline {args.task}: {recipe_path.name} from the benchmark teacher")

    metric = clean["teacher"]["main_metric"]
    rows, data = [], {"task": args.task, "recipe": str(recipe_path.relative_to(ROOT)), "teacher": str(teacher),
                      "targets": TARGETS, "environment": env, "models": {}}
    t_size = clean["teacher"]["efficiency"]["size_on_disk_bytes"]
    for name in models:
        rec = clean[name]
        entry = {"label": labels[name], "metric": rec["metrics"][metric],
                 "metric_change_points": 100 * (rec["metrics"][metric] - clean["teacher"]["metrics"][metric]),
                 "size_on_disk_bytes": rec["efficiency"]["size_on_disk_bytes"],
                 "size_reduction": t_size / rec["efficiency"]["size_on_disk_bytes"],
                 "parameters": rec["efficiency"]["parameters"], "loader": rec["loader"],
                 "speedup_batch_1": timing[name]["batch_1"]["speedup"],
                 "speedup_batch_32": timing[name]["batch_32"]["speedup"],
                 "speedup_batch_1_vs_ort": (timing["teacher-ort"]["batch_1"]["latency_ms_median"]
                                            / timing[name]["batch_1"]["latency_ms_median"]),
                 "speedup_batch_32_vs_ort": (timing["teacher-ort"]["batch_32"]["latency_ms_median"]
                                             / timing[name]["batch_32"]["latency_ms_median"]),
                 "latency_ms_batch_1": timing[name]["batch_1"]["latency_ms_median"],
                 "latency_ms_batch_32": timing[name]["batch_32"]["latency_ms_median"],
                 "shifted": {tag: r["metrics"][r["main_metric"]] for tag, r in shifted[name].items()}}
        data["models"][name] = entry
        rows.append(f"| {labels[name]} | {entry['metric']:.4f} | {entry['metric_change_points']:+.2f} | "
                    f"{entry['size_on_disk_bytes'] / 2**20:.1f} | {entry['size_reduction']:.2f}x | "
                    f"{entry['parameters'] / 1e6:.2f} M | {entry['latency_ms_batch_1']:.2f} | {entry['speedup_batch_1']:.2f}x | "
                    f"{entry['speedup_batch_1_vs_ort']:.2f}x | {entry['latency_ms_batch_32']:.1f} | "
                    f"{entry['speedup_batch_32']:.2f}x | {entry['speedup_batch_32_vs_ort']:.2f}x | {entry['loader']} |")
    final = data["models"][stages[-1].name]
    checks = {
        f"size >= {TARGETS['size_reduction']:g}x smaller": final["size_reduction"] >= TARGETS["size_reduction"],
        f"speed >= {TARGETS['speedup']:g}x at batch 1 (vs PyTorch eager)": final["speedup_batch_1"] >= TARGETS["speedup"],
        f"speed >= {TARGETS['speedup']:g}x at batch 32 (vs PyTorch eager)": final["speedup_batch_32"] >= TARGETS["speedup"],
        f"speed >= {TARGETS['speedup']:g}x at batch 1 vs the teacher on ONNX Runtime fp32":
            final["speedup_batch_1_vs_ort"] >= TARGETS["speedup"],
        f"speed >= {TARGETS['speedup']:g}x at batch 32 vs the teacher on ONNX Runtime fp32":
            final["speedup_batch_32_vs_ort"] >= TARGETS["speedup"],
        f"{metric} within {TARGETS['max_accuracy_drop_points']:g} points":
            final["metric_change_points"] >= -TARGETS["max_accuracy_drop_points"],
    }
    data["final"] = stages[-1].name
    data["targets_met"] = checks
    data["timing"] = timing
    n_eval = clean["teacher"]["n_examples"]
    md = "\n".join([
        f"# Pipeline on {args.task}: `{recipe_path.relative_to(ROOT)}` from the benchmark teacher", "",
        f"Command: `python benchmarks/pipeline.py --task {args.task} --threads {args.threads}`", "",
        f"Stages: {' -> '.join(labels[s.name] for s in stages)}. {metric} on {n_eval} {task.name} "
        f"{'/'.join(clean['teacher']['splits'])} examples; every model loaded through hfcompress's loader. "
        f"Latency: one fixed batch (1 and 32 examples), all models alternating for {args.rounds} rounds in this "
        f"one run, {threads} thread(s), {env['cpu']} ({', '.join(env.get('cpu_flags', [])) or 'flags n/a'}); "
        f"torch {env['torch']}, transformers {env['transformers']}.", "",
        "Speed-ups are against the teacher in PyTorch eager and (*vs ORT*) against the teacher on ONNX Runtime fp32.", "",
        "| model | " + metric + " | change (points) | size (MiB) | smaller | parameters | b1 ms | b1 speed-up | "
        "b1 vs ORT | b32 ms | b32 speed-up | b32 vs ORT | runtime |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |", *rows, "",
        "Targets for the final stage (issue: >= 8x smaller, >= 4x faster, within 2 points):", "",
        *[f"- {'met' if ok else '**missed**'}: {name}" for name, ok in checks.items()], "",
        f"Robustness and plots: [pipeline_{args.task}_report/report.md](pipeline_{args.task}_report/report.md) "
        f"(shifts: {', '.join((c or t) + (f' on {l} seeded examples' if l else ' on the whole split') for t, c, _, l in SHIFTS[args.task])}).", "",
        "## Interleaved timing", *timing_lines, ""])
    write_results(f"pipeline_{args.task}" + ("" if threads == 1 else f"_{threads}threads"), data, md)
    print(md)
    print(f"report: {report}")


if __name__ == "__main__":
    main()

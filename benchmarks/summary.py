"""The technique summary table: one representative of each compression family, measured side by side.

    .venv/bin/python benchmarks/summary.py --task sst2
    .venv/bin/python benchmarks/summary.py --task cifar10

On the benchmark teacher of the task (benchmarks/work/teacher-<task>), through the public API: each
technique below is one recipe section (``{"prune": {...}}``: what `hfcompress prune/quantize/distill`
would run) given to ``hfcompress.compress``, which fills in task, input and output folder: pruning
(structured: heads + FFN for text, conv channels for ResNet; unstructured; layer dropping),
quantization (the best INT8 path found in benchmarks/results/quantize.md, and fp16 / bf16) and
distillation (a smaller student). Models are produced if missing (benchmarks/work/summary-<task>/;
the distilled student and the channel-pruned ResNet are taken from the pipeline runs,
benchmarks/pipeline.py, when present), each evaluated on the whole evaluation split, then all timed
in one run, interleaved, same batch, same threads. The "best use" column is derived from the
measured numbers by fixed rules (see ``best_use``), not written by hand.
Writes benchmarks/results/summary_<task>.{json,md}.
"""

from __future__ import annotations

import argparse

from common import WORK, evaluate_cached, require_mirror, write_results
from speed import time_models

import hfcompress
from hfcompress.config import EvalConfig
from hfcompress.evaluation.efficiency import environment, set_threads
from hfcompress.tasks import get_task

RECOVER = dict(finetune_epochs=1.0, recovery="distill")

# (family, technique, folder name, method: a {recipe section: fields} mapping run by hfcompress.compress,
#  input: "teacher" or a previous folder name, an existing folder used instead when present (relative to
#  benchmarks/work)). compress fills in task, input model and output folder; --threads is added to each.
TECHNIQUES = {
    "sst2": [
        ("baseline", "teacher on ONNX Runtime fp32 (the strongest baseline a user has)", "teacher-ort",
         {"quantize": dict(method="onnx-fp32")}, "teacher", None),
        ("pruning, structured", "heads 40% (gradient importance)", "heads40",
         {"prune": dict(method="heads", amount=0.4)}, "teacher", None),
        ("pruning, structured", "heads 40% + FFN 30%, distillation recovery (4k phrases)", "heads40-ffn30",
         {"prune": dict(method="ffn", amount=0.3, max_train_samples=4000, **RECOVER)}, "heads40", None),
        ("pruning, structured", "drop 2 of 6 layers (importance), distillation recovery (4k phrases)", "drop2",
         {"prune": dict(method="drop_layers", count=2, max_train_samples=4000, **RECOVER)}, "teacher", None),
        ("pruning, unstructured", "50% of weights, gradual (cubic), 1 epoch on 4k phrases", "unstructured50",
         {"prune": dict(method="unstructured", amount=0.5, schedule="gradual", finetune_epochs=1.0,
                        max_train_samples=4000)}, "teacher", None),
        ("pruning, vocabulary", "tokens SST-2's train split never uses", "vocab", {"prune": dict(method="vocab")},
         "teacher", None),
        ("quantization", "INT8 dynamic, ONNX Runtime", "onnx-dynamic", {"quantize": dict(method="onnx-dynamic")},
         "teacher", None),
        ("quantization", "INT8 dynamic, PyTorch (Linear layers)", "torch-dynamic",
         {"quantize": dict(method="torch-dynamic")}, "teacher", None),
        ("half precision", "fp16", "fp16", {"quantize": dict(method="fp16")}, "teacher", None),
        ("half precision", "bf16", "bf16", {"quantize": dict(method="bf16")}, "teacher", None),
        ("distillation", "DistilBERT-style 3-layer student (20k phrases, 2 epochs)", "distil3",
         {"distill": dict(student={"kind": "layers", "layers": [1, 3, 5]}, offline_teacher=True, epochs=2,
                          learning_rate=1e-4, max_train_samples=20000)}, "teacher", "pipeline-sst2/01-distill"),
    ],
    "cifar10": [
        ("baseline", "teacher on ONNX Runtime fp32 (the strongest baseline a user has)", "teacher-ort",
         {"quantize": dict(method="onnx-fp32")}, "teacher", None),
        ("pruning, structured", "conv channels to 1/2 of the MACs, distillation recovery (2 epochs)", "channels2x",
         {"prune": dict(method="channels", importance="magnitude", mac_reduction=2.0, finetune_epochs=2.0,
                        recovery="distill", recovery_temperature=4.0, recovery_ce_weight=0.1, learning_rate=1e-3,
                        batch_size=128)}, "teacher", "pipeline-cifar10/01-prune"),
        ("pruning, structured", "drop 2 residual blocks (importance), distillation recovery (1 epoch)", "drop2",
         {"prune": dict(method="drop_layers", count=2, learning_rate=1e-3, batch_size=128, recovery_temperature=4.0,
                        recovery_ce_weight=0.1, **RECOVER)}, "teacher", None),
        ("pruning, unstructured", "50% of weights, one-shot + 1 epoch (20k images)", "unstructured50",
         {"prune": dict(method="unstructured", amount=0.5, finetune_epochs=1.0, max_train_samples=20000,
                        learning_rate=1e-3, batch_size=128)}, "teacher", None),
        ("quantization", "INT8 static, PyTorch FX (calibrated)", "torch-static",
         {"quantize": dict(method="torch-static")}, "teacher", None),
        ("half precision", "fp16", "fp16", {"quantize": dict(method="fp16")}, "teacher", None),
        ("half precision", "bf16", "bf16", {"quantize": dict(method="bf16")}, "teacher", None),
        ("distillation", "ResNet-18 at quarter width from scratch, logits KD (3 epochs)", "student-r18w16",
         {"distill": dict(student={"kind": "model", "model": "scratch:resnet18-w16"},
                          losses=[{"name": "logits", "weight": 0.9}, {"name": "ce", "weight": 0.1}], temperature=4.0,
                          epochs=3, learning_rate=2e-3, batch_size=128, weight_decay=0.05)}, "teacher", None),
    ],
}


def best_use(size_x: float, speed_b1: float, speed_b32: float, change: float) -> str:
    """Fixed rules over the measured ratios (no opinion): what this technique buys here."""
    if change < -2.0:
        return f"not at this budget: {change:+.1f} points"
    faster = max(speed_b1, speed_b32) >= 1.2
    smaller = size_x >= 1.5
    if faster and smaller:
        which = "batch 1" if speed_b1 >= speed_b32 else "batch 32"
        return f"smaller and faster (most at {which})"
    if faster:
        return "faster, not smaller"
    if smaller:
        slower = min(speed_b1, speed_b32) < 0.9
        return "smaller only" + (" (slower on this CPU)" if slower else " (no speed-up)")
    return "no gain here"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", choices=sorted(TECHNIQUES), required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    require_mirror()
    task = get_task(args.task)
    teacher = WORK / f"teacher-{args.task}"
    out = WORK / f"summary-{args.task}"
    out.mkdir(parents=True, exist_ok=True)
    folders = {"teacher": teacher}
    for family, technique, name, method, source, existing in TECHNIQUES[args.task]:
        folder = out / name
        if existing and (WORK / existing / "config.json").is_file():
            folder = WORK / existing
        elif not (folder / "config.json").is_file():
            print(f"summary: producing {name} ({technique})")
            stage = {section: {**fields, "threads": args.threads} for section, fields in method.items()}
            hfcompress.compress(str(folders[source]), stage, task=args.task, output_dir=folder, overwrite=True)
        folders[name] = folder

    records = {name: evaluate_cached(out / f"{name}.eval.json",
                                     EvalConfig(task=args.task, model=str(folder), batch_size=32, threads=args.threads,
                                                repeats=3))
               for name, folder in folders.items()}

    threads = set_threads(args.threads)
    timing, timing_lines = time_models(task, {n: str(f) for n, f in folders.items()}, [1, 32], args.rounds)
    metric = records["teacher"]["main_metric"]
    base = records["teacher"]
    rows, data = [], {"task": args.task, "environment": environment(threads), "rows": []}
    labels = {"teacher": ("baseline", "teacher (fp32, PyTorch)")} | {
        name: (family, technique) for family, technique, name, *_ in TECHNIQUES[args.task]}
    for name, rec in records.items():
        family, technique = labels[name]
        size_x = base["efficiency"]["size_on_disk_bytes"] / rec["efficiency"]["size_on_disk_bytes"]
        change = 100 * (rec["metrics"][metric] - base["metrics"][metric])
        b1, b32 = timing[name]["batch_1"]["speedup"], timing[name]["batch_32"]["speedup"]
        ort1 = timing["teacher-ort"]["batch_1"]["latency_ms_median"] / timing[name]["batch_1"]["latency_ms_median"]
        ort32 = timing["teacher-ort"]["batch_32"]["latency_ms_median"] / timing[name]["batch_32"]["latency_ms_median"]
        use = "-" if name == "teacher" else best_use(size_x, b1, b32, change)
        row = {"name": name, "family": family, "technique": technique, "folder": str(folders[name]),
               "metric": rec["metrics"][metric], "change_points": change, "size_mib": rec["efficiency"]["size_on_disk_bytes"] / 2**20,
               "size_reduction": size_x, "parameters": rec["efficiency"]["parameters"],
               "weight_sparsity": rec["efficiency"].get("weight_sparsity", 0.0), "speedup_batch_1": b1,
               "speedup_batch_32": b32, "speedup_batch_1_vs_ort": ort1, "speedup_batch_32_vs_ort": ort32,
               "runtime": rec["loader"], "best_use": use}
        data["rows"].append(row)
        rows.append(f"| {family} | {technique} | {row['size_mib']:.1f} | {size_x:.2f}x | {b1:.2f}x | {ort1:.2f}x | "
                    f"{b32:.2f}x | {ort32:.2f}x | {row['metric']:.4f} | {change:+.2f} | {use} |")
    env = data["environment"]
    md = "\n".join([
        f"# Technique summary: {args.task}", "",
        f"Command: `python benchmarks/summary.py --task {args.task}`", "",
        f"Baseline: `{teacher.relative_to(WORK.parent.parent)}`. {metric} on the whole {task.name} "
        f"{'/'.join(base['splits'])} split ({base['n_examples']} examples). Speed-ups: every model on the same fixed "
        f"batch (1 and 32 examples), alternating for {args.rounds} rounds in this one run, {threads} thread(s), "
        f"{env['cpu']} (SIMD: {', '.join(env.get('cpu_flags', [])) or 'n/a'}), torch {env['torch']}, "
        f"transformers {env['transformers']}. Best use: fixed rules over these numbers (`best_use` in the script).", "",
        "Speed-ups against the teacher in PyTorch eager, and (*vs ORT*) against the teacher on ONNX Runtime fp32.", "",
        f"| family | technique | size (MiB) | smaller | speed-up b1 | b1 vs ORT | speed-up b32 | b32 vs ORT | {metric} | "
        "change (points) | best use |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |", *rows, "",
        "## Interleaved timing", *timing_lines, ""])
    data["timing"] = timing
    write_results(f"summary_{args.task}", data, md)
    print(md)


if __name__ == "__main__":
    main()

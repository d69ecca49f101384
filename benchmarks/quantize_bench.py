"""Quantization benchmark: fp32 and every method, on the SST-2 teacher and the CIFAR-10 ResNet, in one run.

    flock /tmp/hfcompress-cpu.lock .venv/bin/python benchmarks/quantize_bench.py

Runs in the one environment, .venv (ONNX Runtime and bitsandbytes beside transformers).
For each model: quantize with every method that applies (outputs in benchmarks/work/quantize/),
then evaluate each folder in a fresh subprocess with the same code as ``hfcompress evaluate``
(``evaluate_loaded``): accuracy on a seeded subset, latency at batch 32 and batch 1, throughput,
size on disk, size of the weight matrices (Linear/Conv weights, embeddings excluded), and the
subprocess's peak resident memory. Every number is also given as a ratio to fp32 measured in
the same run with the same thread count. Writes benchmarks/results/quantize_{sst2,cifar10}.{json,md}
and benchmarks/results/quantize.{json,md} (both together).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from common import RESULTS, WORK, require_mirror

# "-O2": the same method on the graph fused by ONNX Runtime's optimizer (optimization_level O2). The
# fastest onnx-fp32 row is "the teacher on ONNX Runtime fp32", the strongest baseline a user already has.
# "onnx-static-emb": onnx-static with the embedding tables int8 as well (quantize_embeddings).
TEXT_METHODS = ["onnx-fp32", "onnx-fp32-O2", "onnx-dynamic", "onnx-dynamic-O2", "onnx-static", "onnx-static-emb",
                "torch-dynamic", "qat", "bnb-8bit", "bnb-4bit"]
IMAGE_METHODS = ["onnx-fp32", "onnx-fp32-O2", "onnx-dynamic", "onnx-static", "torch-static", "qat"]
OPTIONS = {  # per (task, method) overrides of QuantizeConfig
    ("sst2", "onnx-static"): dict(calibration="percentile", percentile=99.99, calibration_samples=128),
    ("sst2", "qat"): dict(epochs=1.0, learning_rate=1e-5, max_train_samples=1000, batch_size=32),
    ("cifar10", "onnx-static"): dict(calibration="minmax", calibration_samples=256),
    ("cifar10", "torch-static"): dict(calibration_samples=256),
    ("cifar10", "qat"): dict(epochs=1.0, learning_rate=1e-4, max_train_samples=1024, batch_size=64),
}


# ---------------------------------------------------------------------------------------------
# One measurement, in its own process (peak memory is per process)
# ---------------------------------------------------------------------------------------------
def measure(model_dir: str, task_name: str, limit: int, threads: int, repeats: int) -> dict:
    import hfcompress
    from hfcompress.config import EvalConfig
    from hfcompress.evaluation import evaluate_loaded
    from hfcompress.evaluation.efficiency import measure_latency, set_threads
    from hfcompress.tasks import get_task
    from hfcompress.tasks.batches import batches

    # import every runtime first, so that the memory baseline is the same for every method
    import onnx  # noqa: F401
    import onnxruntime  # noqa: F401

    set_threads(threads)
    baseline_mib = _rss_mib()
    task = get_task(task_name)
    loaded = hfcompress.load(model_dir, task=task)
    record = evaluate_loaded(loaded, task, EvalConfig(task=task_name, model=model_dir, limit=limit, batch_size=32,
                                                     threads=threads, repeats=repeats))
    one = next(batches(task, task.eval_splits[0], loaded.preprocessor, batch_size=1, limit=1, labels=False))
    record["efficiency"]["batch1"] = measure_latency(lambda: loaded.predict(one), warmup=5, repeats=repeats * 3)
    matrices = 0
    for name, t in loaded.weight_tensors():
        if t.dim() >= 2 and "embedding" not in name.lower():
            matrices += t.numel() * t.element_size()
    record["efficiency"]["weight_matrix_bytes"] = matrices
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over exec from the parent process
    # (this benchmark, which holds several models), while VmHWM belongs to this process's memory only.
    record["efficiency"]["peak_rss_mib"] = _rss_mib("VmHWM:")
    record["efficiency"]["rss_after_imports_mib"] = baseline_mib
    return record


def _rss_mib(field: str = "VmRSS:") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure_in_subprocess(model_dir: Path, task: str, args) -> dict:
    cmd = [sys.executable, __file__, "--measure", str(model_dir), "--task", task, "--limit", str(args.limits[task]),
           "--threads", str(args.threads), "--repeats", str(args.repeats)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------
def quantize_one(task: str, model: str, method: str, out: Path, args) -> dict:
    from hfcompress.api import run_method
    from hfcompress.quantize import QuantizeConfig

    if out.exists() and args.reuse and (out / "config.json").exists():
        return {"reused": True}
    if out.exists():
        shutil.rmtree(out)
    base, _, level = method.partition("-O")
    extra = {"optimization_level": f"O{level}"} if level else {}
    if base.endswith("-emb"):
        base, extra["quantize_embeddings"] = base[:-len("-emb")], True
    cfg = QuantizeConfig(task=task, model=model, output_dir=str(out), method=base, threads=args.threads,
                         **OPTIONS.get((task, base), {}), **extra)
    try:
        start = time.perf_counter()
        result = run_method("quantize", cfg).to_dict()
        result["quantize_seconds"] = round(time.perf_counter() - start, 1)
        return result
    except Exception as exc:  # a backend failing here is a result to report, not a crash
        return {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}


def summarise(rows: list[dict], main_metric: str) -> None:
    base = next(r for r in rows if r["method"] == "fp32")["eval"]
    b_eff = base["efficiency"]
    ort = [r["eval"]["efficiency"] for r in rows if r["method"].startswith("onnx-fp32") and "efficiency" in r.get("eval", {})]
    ort_b1 = min((e["batch1"]["latency_ms_median"] for e in ort), default=None)
    ort_b32 = min((e["latency_ms_median"] for e in ort), default=None)
    for r in rows:
        if "eval" not in r or "error" in r["eval"]:
            continue
        e = r["eval"]["efficiency"]
        r["summary"] = {
            "metric": r["eval"]["metrics"][main_metric],
            "metric_delta_points": 100 * (r["eval"]["metrics"][main_metric] - base["metrics"][main_metric]),
            "size_mib": e["size_on_disk_bytes"] / 2**20,
            "size_ratio": b_eff["size_on_disk_bytes"] / e["size_on_disk_bytes"],
            "weight_matrix_ratio": b_eff["weight_matrix_bytes"] / max(1, e["weight_matrix_bytes"]),
            "peak_rss_mib": e["peak_rss_mib"],
            "model_peak_mib": e["peak_rss_mib"] - e["rss_after_imports_mib"],
            "latency_b1_ms": e["batch1"]["latency_ms_median"],
            "speedup_b1": b_eff["batch1"]["latency_ms_median"] / e["batch1"]["latency_ms_median"],
            "latency_b32_ms": e["latency_ms_median"],
            "speedup_b32": b_eff["latency_ms_median"] / e["latency_ms_median"],
            "throughput": e["throughput_examples_per_s"],
            "speedup_b1_vs_ort": ort_b1 / e["batch1"]["latency_ms_median"] if ort_b1 else None,
            "speedup_b32_vs_ort": ort_b32 / e["latency_ms_median"] if ort_b32 else None,
        }


def _x(ratio) -> str:
    return "–" if ratio is None else f"{ratio:.2f}"


def markdown(task: str, model: str, rows: list[dict], env: dict, args) -> str:
    lines = [f"## {task}: `{model}`", "",
             f"{args.limits[task]} seeded evaluation examples; {args.threads} thread(s); latency = median of "
             f"{args.repeats} (batch 32) / {args.repeats * 3} (batch 1) timed calls; ratios are to PyTorch fp32 (eager) "
             "in this run, and *vs ORT* to the faster onnx-fp32 row (the teacher on ONNX Runtime fp32).", "",
             "| method | accuracy | Δ points | size MiB | size x | weight matrices x | peak RSS MiB (over imports) | "
             "b1 ms | b1 speed-up | b1 vs ORT | b32 ms | b32 speed-up | b32 vs ORT | examples/s |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        s = r.get("summary")
        if s is None:
            err = r.get("quantize", {}).get("error") or r.get("eval", {}).get("error")
            lines.append(f"| {r['method']} | failed: {err} |" + " |" * 12)
            continue
        lines.append(f"| {r['method']} | {s['metric']:.4f} | {s['metric_delta_points']:+.2f} | {s['size_mib']:.1f} | "
                     f"{s['size_ratio']:.2f} | {s['weight_matrix_ratio']:.2f} | {s['peak_rss_mib']:.0f} ({s['model_peak_mib']:+.0f}) | "
                     f"{s['latency_b1_ms']:.2f} | {s['speedup_b1']:.2f} | {_x(s['speedup_b1_vs_ort'])} | "
                     f"{s['latency_b32_ms']:.1f} | {s['speedup_b32']:.2f} | {_x(s['speedup_b32_vs_ort'])} | "
                     f"{s['throughput']:.1f} |")
    correct = [r for r in rows if r.get("summary") and r["method"] != "fp32"
               and r["summary"]["metric_delta_points"] > -0.5]
    if correct:
        best = max(correct, key=lambda r: r["summary"]["speedup_b1"])
        lines += ["", f"Fastest method within 0.5 accuracy points of fp32 at batch 1: **{best['method']}** "
                      f"(x{best['summary']['speedup_b1']:.2f} batch 1, x{best['summary']['speedup_b32']:.2f} batch 32)."]
    return "\n".join(lines) + "\n"


def run_task(task: str, model: str, methods: list[str], args) -> dict:
    out_root = WORK / "quantize"
    rows = [{"method": "fp32", "model_dir": model}]
    for method in methods:
        out = out_root / f"{task}-{method}"
        print(f"[{task}] quantize {method} ...", flush=True)
        q = quantize_one(task, model, method, out, args)
        rows.append({"method": method, "model_dir": str(out), "quantize": q})
    for r in rows:
        if "error" in r.get("quantize", {}):
            print(f"[{task}] {r['method']}: quantize failed: {r['quantize']['error']}", flush=True)
            continue
        print(f"[{task}] measure {r['method']} ...", flush=True)
        r["eval"] = measure_in_subprocess(Path(r["model_dir"]), task, args)
        if "error" in r["eval"]:
            print(f"[{task}] {r['method']}: evaluation failed: {r['eval']['error']}", flush=True)
    summarise(rows, next(r for r in rows if r["method"] == "fp32")["eval"]["main_metric"])
    return {"task": task, "model": model, "limit": args.limits[task], "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--measure", help=argparse.SUPPRESS)
    ap.add_argument("--task", help=argparse.SUPPRESS)
    ap.add_argument("--limit", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--text-model", default=str(WORK / "teacher-sst2"))
    ap.add_argument("--image-model", default=str(WORK / "teacher-cifar10"))
    ap.add_argument("--text-limit", type=int, default=500)
    ap.add_argument("--image-limit", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--tasks", default="cifar10,sst2")
    ap.add_argument("--reuse", action="store_true", help="keep quantized folders from an earlier run")
    args = ap.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    require_mirror()
    if args.measure:
        record = measure(args.measure, args.task, args.limit, args.threads, args.repeats)
        print(json.dumps(record, default=str))
        return
    args.limits = {"sst2": args.text_limit, "cifar10": args.image_limit}

    from hfcompress.evaluation.efficiency import environment, set_threads

    set_threads(args.threads)
    env = environment(args.threads)
    started = time.perf_counter()
    results, md = {}, []
    for task in args.tasks.split(","):
        model = args.text_model if task == "sst2" else args.image_model
        if not (Path(model) / "config.json").is_file():
            print(f"[{task}] skipped: no model at {model}", flush=True)
            md.append(f"## {task}\n\nnot run: no model at `{model}`\n")
            continue
        methods = TEXT_METHODS if task == "sst2" else IMAGE_METHODS
        results[task] = run_task(task, model, methods, args)
        md.append(markdown(task, model, results[task]["rows"], env, args))
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"quantize_{task}.json").write_text(json.dumps({"environment": env, **results[task]}, indent=2,
                                                                 default=str) + "\n")
        (RESULTS / f"quantize_{task}.md").write_text(f"# Quantization benchmark: {task}\n\n" + md[-1])
    try:
        import bitsandbytes
        import onnx
        import onnxruntime

        versions = (f"onnxruntime {onnxruntime.__version__}, onnx {onnx.__version__}, "
                    f"bitsandbytes {bitsandbytes.__version__}")
    except ImportError as exc:
        versions = f"(missing: {exc.name})"
    write_combined(env, versions, time.perf_counter() - started)


def write_combined(env: dict, versions: str, seconds: float) -> None:
    """quantize.{md,json}: every task's latest results (a task can be re-run alone with --tasks)."""
    results, sections = {}, []
    for task in ("sst2", "cifar10"):
        path = RESULTS / f"quantize_{task}.json"
        if path.is_file():
            results[task] = json.loads(path.read_text())
            e = results[task].get("environment", {})
            # each task's own machine and versions: a task re-run alone may come from another machine
            measured = (f"Measured on {e.get('cpu', '?')} (flags: {', '.join(e.get('cpu_flags', [])) or '?'}), torch "
                        f"{e.get('torch', '?')}, transformers {e.get('transformers', '?')}.\n\n")
            body = (RESULTS / f"quantize_{task}.md").read_text().split("\n", 2)[2]
            head, _, rest = body.partition("\n\n")
            sections.append(f"{head}\n\n{measured}{rest}")
        else:
            sections.append(f"## {task}\n\nnot run yet\n")
    flags = set(env["cpu_flags"])
    header = (f"# Quantization benchmark\n\nCommand: `flock /tmp/hfcompress-cpu.lock .venv/bin/python "
              f"benchmarks/quantize_bench.py` (`--tasks sst2` or `--tasks cifar10` re-runs one model)\n\n"
              f"Last run's CPU: {env['cpu']} ({env['cpu_count']} cores); flags: {', '.join(env['cpu_flags'])}; "
              f"AVX2 {'yes' if 'avx2' in flags else 'no'}, AVX-512 {'yes' if 'avx512f' in flags else 'no'}, "
              f"VNNI {'yes' if flags & {'avx512_vnni', 'avx_vnni'} else 'no'}")
    header += (f"; torch {env['torch']}, transformers {env['transformers']}, {versions}. Last run took "
               f"{seconds / 60:.1f} min.\n\n"
               "Peak RSS is the whole evaluation process (Python, torch, ONNX Runtime and the data included); in "
               "brackets the peak over the process's RSS after importing every runtime, i.e. what loading and "
               "running the model cost. `weight matrices x`: bytes of Linear/Conv weight tensors (embeddings "
               "excluded) of fp32 over those of the method. `size x`: whole weight files.\n\n")
    (RESULTS / "quantize.md").write_text(header + "\n".join(sections))
    (RESULTS / "quantize.json").write_text(json.dumps({"environment": env, "versions": versions, "results": results},
                                                      indent=2, default=str) + "\n")
    print(f"wrote {RESULTS / 'quantize.md'} and quantize.json", flush=True)


if __name__ == "__main__":
    main()

"""``method: auto``: pick the fastest correct quantization path *on the machine it runs on*, by measuring.

Which INT8 path is fastest depends on the CPU (VNNI / AMX make INT8 GEMMs several times faster;
on plain AVX2 they barely beat fp32), on the runtime and on the model, so no fixed rule is right
everywhere. Measured on this AVX2 machine without VNNI, for example: torch dynamic INT8 x1.24-1.35
over fp32 on a MiniLM-size model, ONNX Runtime fp32 x1.13-1.5, ORT INT8 no faster than ORT fp32,
FX static INT8 on a ResNet-18-size CNN x1.8-2.0. So ``auto``:

1. lists the candidates that apply to the task's modality and are installed (post-training only:
   QAT needs a training run, and bitsandbytes and fp16/bf16 are slower than fp32 on CPUs without
   native support, so they are candidates only when named in ``auto_candidates``);
2. quantizes the model with each candidate into a temporary folder and evaluates it through
   hfcompress's loader on ``auto_eval_samples`` evaluation examples: the task metric, and the
   median latency at batch ``auto_batch_size`` with the configured threads;
3. keeps the candidates whose metric is within ``auto_max_accuracy_drop`` of PyTorch fp32 and
   publishes the fastest, with the whole measurement table and the CPU flags in its record.

It prints each measurement and the reason for its choice.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hfcompress.errors import HfCompressError
from hfcompress.quantize.config import QuantizeConfig

DEFAULT_CANDIDATES = {
    "text": ["torch-dynamic", "onnx-fp32", "onnx-dynamic"],
    "image": ["torch-static", "onnx-fp32", "onnx-static"],
}


def _measure(path: str, task, cfg: QuantizeConfig) -> dict[str, Any]:
    import hfcompress
    from hfcompress.config import EvalConfig
    from hfcompress.evaluation import evaluate_loaded

    loaded = hfcompress.load(path, task=task)
    ev = evaluate_loaded(loaded, task, EvalConfig(task=task.describe(), model=path, limit=cfg.auto_eval_samples,
                                                  batch_size=cfg.auto_batch_size, max_length=cfg.max_length,
                                                  threads=cfg.threads, datasets_mirror=cfg.datasets_mirror,
                                                  repeats=30, warmup=5))
    return {"metric": ev["metrics"][ev["main_metric"]], "latency_ms": ev["efficiency"]["latency_ms_median"],
            "size_bytes": ev["efficiency"]["size_on_disk_bytes"]}


def candidate_config(cfg: QuantizeConfig, method: str, out: Path) -> QuantizeConfig:
    """``cfg`` for one candidate: options that do not apply to ``method`` are dropped, not errors."""
    import dataclasses

    calibration = cfg.calibration
    if method == "torch-static" and calibration not in (None, "minmax", "histogram") or \
            method == "onnx-static" and calibration == "histogram" or method not in ("onnx-static", "torch-static"):
        calibration = None
    sub = dataclasses.replace(cfg, method=method, output_dir=str(out), calibration=calibration,
                              optimization_level=cfg.optimization_level if method.startswith("onnx") else None,
                              per_channel=None if method in ("fp16", "bf16") else cfg.per_channel,
                              onnx_format=cfg.onnx_format if method == "onnx-static" else None,
                              quantize_embeddings=cfg.quantize_embeddings if method == "onnx-static" else None)
    sub.validate("quantize")
    return sub


class AutoSelect:
    """The ``auto`` method: quantize with every candidate backend, measure, publish the fastest correct one."""

    def check_supported(self, method: str, modality: str, model_type=None) -> None:
        pass  # each candidate is checked in run()

    def run(self, cfg: QuantizeConfig, task, model=None, overwrite: bool = False):
        return quantize_auto(cfg, task, model=model, overwrite=overwrite)


def _unavailable(method: str):
    """Why a candidate's backend cannot run here (its missing dependency), or None."""
    from hfcompress.quantize.api import backend

    try:
        backend(method).require()
    except HfCompressError as exc:
        return str(exc)
    return None


def quantize_auto(cfg: QuantizeConfig, task, model=None, overwrite: bool = False):
    from hfcompress.evaluation.efficiency import cpu_flags, set_threads
    from hfcompress.hub.record import RECORD_KEY, CompressionRecord
    from hfcompress.hub.save import atomic_directory
    from hfcompress.methods.contract import RunResult
    from hfcompress.quantize.api import check_supported, quantize

    if model is not None:
        raise HfCompressError("quantize.method: 'auto' measures each backend on the saved model; pass a folder")
    threads = set_threads(cfg.threads)
    flags = cpu_flags()
    candidates = list(cfg.auto_candidates or DEFAULT_CANDIDATES[task.modality])
    for m in candidates:
        check_supported(m, task.modality)
    skipped = {m: why for m in candidates if (why := _unavailable(m))}
    candidates = [m for m in candidates if m not in skipped]
    if not candidates:
        raise HfCompressError(f"auto: no candidate method is available here ({skipped})")
    print(f"auto: CPU flags {', '.join(flags) or 'none'}; {threads} thread(s); candidates {', '.join(candidates)}"
          + (f"; skipped {', '.join(skipped)} ({next(iter(skipped.values()))})" if skipped else ""), flush=True)

    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="hfcompress-auto-") as work:
        rows["fp32"] = base = _measure(cfg.model, task, cfg)
        print(f"auto: fp32 (PyTorch)  {base['metric']:.4f}  {base['latency_ms']:.2f} ms", flush=True)
        for m in candidates:
            out = Path(work) / m
            try:
                quantize(candidate_config(cfg, m, out))
                row = _measure(str(out), task, cfg)
            except HfCompressError as exc:
                rows[m] = {"error": str(exc)}
                print(f"auto: {m}: failed ({exc})", flush=True)
                continue
            row["speedup"] = base["latency_ms"] / row["latency_ms"]
            row["correct"] = row["metric"] >= base["metric"] - cfg.auto_max_accuracy_drop
            rows[m] = row
            print(f"auto: {m:<14} {row['metric']:.4f}  {row['latency_ms']:.2f} ms  x{row['speedup']:.2f} "
                  f"{'ok' if row['correct'] else 'REJECTED: metric drop > ' + str(cfg.auto_max_accuracy_drop)}",
                  flush=True)
        correct = [m for m in candidates if rows[m].get("correct")]
        if not correct:
            raise HfCompressError(f"auto: no candidate kept the metric within {cfg.auto_max_accuracy_drop} of fp32 "
                                  f"({ {m: r.get('metric', r.get('error')) for m, r in rows.items()} }); "
                                  "raise auto_max_accuracy_drop or try --method qat")
        chosen = min(correct, key=lambda m: rows[m]["latency_ms"])
        why = (f"{chosen}: fastest of the candidates within {cfg.auto_max_accuracy_drop} of fp32's metric at batch "
               f"{cfg.auto_batch_size} ({rows[chosen]['latency_ms']:.2f} ms vs fp32 {base['latency_ms']:.2f} ms, "
               f"x{rows[chosen]['speedup']:.2f}) on a CPU with {', '.join(flags) or 'no SIMD flags'}")
        if rows[chosen]["speedup"] < 1:
            why += "; note: no candidate beat PyTorch fp32 on this machine"
        print(f"auto: chose {why}", flush=True)

        decision = {"chosen": chosen, "why": why, "cpu_flags": flags, "threads": threads,
                    "eval_samples": cfg.auto_eval_samples, "batch_size": cfg.auto_batch_size,
                    "measurements": rows, "skipped": skipped}
        with atomic_directory(cfg.output_dir, overwrite=overwrite) as tmp:
            for entry in (Path(work) / chosen).iterdir():
                shutil.copy2(entry, tmp / entry.name)
            # the chosen folder's record, told that 'auto' chose it (through CompressionRecord, not raw JSON)
            config_path = tmp / "config.json"
            config = json.loads(config_path.read_text())
            record = CompressionRecord.from_model_config(config)
            stage = record.stages[-1]
            stage.params["method"] = "auto"
            stage.result["auto"] = decision
            config[RECORD_KEY] = record.to_dict()
            config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return RunResult(Path(cfg.output_dir), stage, {"method": chosen, "auto": decision})

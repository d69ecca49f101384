"""Efficiency measurements: latency, throughput, size on disk, parameters, sparsity, environment.

Timings are only comparable within one run (same machine, same threads, same batch): report
ratios between models measured side by side, not absolute numbers across runs.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from pathlib import Path
from typing import Callable, Iterable, Optional

import torch


def set_threads(threads: Optional[int]) -> int:
    """Fix the intra-op thread count (default: what torch chose, normally the core count)."""
    if threads:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def measure_latency(fn: Callable[[], object], warmup: int = 3, repeats: int = 20) -> dict[str, float]:
    """Median and p90 wall time of ``fn()`` in milliseconds, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    times.sort()
    p90 = times[min(len(times) - 1, int(round(0.9 * (len(times) - 1))))]
    return {"latency_ms_median": statistics.median(times), "latency_ms_p90": p90, "latency_repeats": repeats}


def interleaved_latency(fns: dict[str, Callable[[], object]], rounds: int = 15, warmup: int = 2,
                        ) -> dict[str, dict[str, float]]:
    """Median/p90 latency of several callables timed in alternation, round by round.

    On a shared or noisy machine, timing model A for a minute and then model B for a minute
    attributes load changes to the models. Alternating A, B, A, B ... spreads those changes over
    all of them, so the ratios between medians stay meaningful.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for r in range(rounds):
        order = list(fns) if r % 2 == 0 else list(reversed(fns))  # no model always runs first
        for name in order:
            start = time.perf_counter()
            fns[name]()
            times[name].append((time.perf_counter() - start) * 1000.0)
    out = {}
    for name, ts in times.items():
        ts.sort()
        out[name] = {"latency_ms_median": statistics.median(ts),
                     "latency_ms_p90": ts[min(len(ts) - 1, int(round(0.9 * (len(ts) - 1))))],
                     "latency_repeats": rounds}
    return out


def size_on_disk(files: Iterable[Path]) -> int:
    return sum(Path(f).stat().st_size for f in files)


def parameter_stats(named: Iterable[tuple[str, torch.Tensor]]) -> dict[str, float]:
    """Total and non-zero parameters; sparsity over all of them and over the weight matrices.

    ``weight_sparsity`` counts only tensors of two or more dimensions (Linear and Conv
    weights), which is what pruning acts on; biases and norms would otherwise dilute it.
    """
    total = nonzero = mat_total = mat_nonzero = 0
    for _, t in named:
        n = t.numel()
        nz = int(torch.count_nonzero(t.detach())) if n else 0
        total += n
        nonzero += nz
        if t.dim() >= 2:
            mat_total += n
            mat_nonzero += nz
    return {
        "parameters": total,
        "nonzero_parameters": nonzero,
        "sparsity": 1.0 - nonzero / total if total else 0.0,
        "weight_sparsity": 1.0 - mat_nonzero / mat_total if mat_total else 0.0,
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> list[str]:
    """The SIMD features that change which quantized kernels are fast."""
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "amx_bf16", "avx512_bf16", "fma")
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                return [f for f in wanted if f in have]
    except OSError:
        pass
    return []


def environment(threads: int) -> dict[str, object]:
    import transformers

    env = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "threads": threads,
        "cpu": _cpu_model(),
        "cpu_flags": cpu_flags(),
        "cpu_count": os.cpu_count(),
        "device": "cpu",
    }
    try:
        import hfcompress

        env["hfcompress"] = hfcompress.__version__
    except ImportError:  # pragma: no cover
        pass
    try:  # the runtime of every ONNX model timed beside PyTorch
        import onnxruntime

        env["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    return env

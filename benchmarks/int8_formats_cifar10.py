"""Why ONNX Runtime INT8 can be slower than fp32 on an image classifier: every INT8 graph format against
ONNX Runtime fp32 (as exported, and with the extended Conv+activation fusion), one model, interleaved.

    python benchmarks/int8_formats_cifar10.py                       # benchmarks/work/teacher-cifar10
    python benchmarks/int8_formats_cifar10.py --model FOLDER        # any image classifier folder

Variants (all from ``hfcompress quantize``): onnx-fp32, onnx-fp32 O2, onnx-static in QDQ and QOperator
format, each per channel and per tensor, and onnx-dynamic. Without a trained teacher (none on a fresh
machine) a throwaway ResNet-18 (half width) is trained on 256 images: latency does not depend on the
weights' values, so only timing and op counts are reported, no accuracy. Writes
benchmarks/results/int8_formats_cifar10.{json,md}.
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path

from common import WORK, require_mirror, write_results
from speed import time_models

from hfcompress.api import run_method
from hfcompress.config import TrainConfig
from hfcompress.evaluation.efficiency import environment, set_threads
from hfcompress.quantize import QuantizeConfig
from hfcompress.tasks import get_task

VARIANTS = {
    "onnx-fp32": dict(method="onnx-fp32"),
    "onnx-fp32 O2 (FusedConv)": dict(method="onnx-fp32", optimization_level="O2"),
    "static QDQ per-channel": dict(method="onnx-static", onnx_format="qdq", per_channel=True),
    "static QDQ per-tensor": dict(method="onnx-static", onnx_format="qdq", per_channel=False),
    "static QOperator per-channel": dict(method="onnx-static", onnx_format="qoperator", per_channel=True),
    "static QOperator per-tensor": dict(method="onnx-static", onnx_format="qoperator", per_channel=False),
    "dynamic": dict(method="onnx-dynamic"),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", help="image classifier folder (default: benchmarks/work/teacher-cifar10, or a "
                                    "throwaway ResNet-18 half width trained on 256 images)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    require_mirror()
    work = WORK / "int8-formats-cifar10"
    model = Path(args.model) if args.model else WORK / "teacher-cifar10"
    trained = (model / "config.json").is_file()
    if not trained:
        if args.model:
            raise SystemExit(f"--model: {model} is not a model folder (no config.json)")
        model = work / "throwaway-resnet18-w32"
        if not (model / "config.json").is_file():
            run_method("train", TrainConfig(task="cifar10", model="scratch:resnet18-w32", output_dir=str(model),
                                            epochs=1, max_train_samples=256, batch_size=64, eval_at_end=False),
                       overwrite=True)
    models = {"pytorch eager": str(model)}
    for i, (name, kw) in enumerate(VARIANTS.items()):
        out = work / f"{i:02d}"
        if not (out / "config.json").is_file():
            run_method("quantize", QuantizeConfig(task="cifar10", model=str(model), output_dir=str(out), **kw),
                       overwrite=True)
        models[name] = str(out)
    threads = set_threads(args.threads)
    task = get_task("cifar10")
    timing, lines = time_models(task, models, [1, 32], args.rounds)
    import onnx

    ops = {name: dict(collections.Counter(n.op_type for n in onnx.load(f"{models[name]}/model.onnx").graph.node)
                      .most_common(6)) for name in VARIANTS}
    ref = {b: timing["onnx-fp32"][f"batch_{b}"]["latency_ms_median"] for b in (1, 32)}
    env = environment(threads)
    rows = [f"| {n} | {timing[n]['size_on_disk_bytes'] / 2**20:.2f} | "
            + " | ".join(f"{timing[n][f'batch_{b}']['latency_ms_median']:.2f} | "
                         f"{ref[b] / timing[n][f'batch_{b}']['latency_ms_median']:.2f}x" for b in (1, 32))
            + f" | {', '.join(f'{k} {v}' for k, v in ops.get(n, {}).items()) or '-'} |" for n in models]
    md = "\n".join([
        "# ONNX Runtime INT8 graph formats on a CIFAR-10 ResNet-18 (half width)", "",
        f"Command: `python benchmarks/int8_formats_cifar10.py{' --model ' + args.model if args.model else ''}`", "",
        f"Model: `{model}` ({'trained' if trained else 'throwaway, 256 training images: timing only'}). "
        f"{args.rounds} rounds, all models alternating, one fixed batch of CIFAR-10 test images; {threads} thread(s), "
        f"{env['cpu']} ({', '.join(env.get('cpu_flags', [])) or 'flags n/a'}); onnxruntime {env.get('onnxruntime', 'n/a')}.", "",
        "| variant | size (MiB) | b1 ms | b1 vs ORT fp32 | b32 ms | b32 vs ORT fp32 | most frequent ops |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |", *rows, ""])
    write_results("int8_formats_cifar10", {"model": str(model), "trained": trained, "environment": env,
                                           "timing": timing, "ops": ops}, md + "\n".join(lines) + "\n")
    print(md)


if __name__ == "__main__":
    main()

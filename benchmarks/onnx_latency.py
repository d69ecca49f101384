"""PyTorch eager vs ONNX Runtime fp32 (plain / O2 fused) vs dynamic and static INT8, on one model.

    python benchmarks/onnx_latency.py --model FOLDER [--repeats 30] [--threads 1]

FOLDER is an SST-2 text classifier (e.g. all-MiniLM-L6-v2 briefly fine-tuned with ``hfcompress train``).
Every variant is built from the same export with hfcompress's ONNX functions (in a temporary folder),
then timed interleaved: each repetition calls every model once, in turn, so that load changes on a
shared machine hit all of them alike. Prints the fusion counts, accuracy on --eval validation
sentences (and how many predictions differ from PyTorch), and the median latency at batch 1 and 32.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import torch

from common import require_mirror

import hfcompress
from hfcompress.evaluation.run import predict_split
from hfcompress.hub.load import LoadedModel
from hfcompress.quantize import onnx as O
from hfcompress.quantize.config import QuantizeConfig
from hfcompress.tasks import get_task


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--eval", type=int, default=200)
    ap.add_argument("--max-length", type=int, default=64)
    args = ap.parse_args()
    require_mirror()
    torch.set_num_threads(args.threads)
    task = get_task("sst2")
    loaded = hfcompress.load(args.model, task=task)
    cfg = QuantizeConfig(task="sst2", model=args.model, output_dir="-", method="onnx-static",
                         max_length=args.max_length, calibration_samples=128)
    work = Path(tempfile.mkdtemp(prefix="onnx-bench-"))
    names = O.export_onnx(loaded.model, "text", work / "plain.onnx", O.example_batch(task, loaded.preprocessor, cfg))
    O.optimize_text(work / "plain.onnx", work / "o2.onnx", loaded.model, "O2")
    fused = O.fused_counts(work / "o2.onnx", loaded.model, "text")
    print(O.fused_line(fused, "O2"))
    samples = O.calibration_samples(task, loaded.preprocessor, cfg, names)
    O.quantize_graph(work / "o2.onnx", work / "dynamic.onnx", cfg, "text", contrib_ops=True)
    O.quantize_graph(work / "o2.onnx", work / "static.onnx", cfg, "text", contrib_ops=True, samples=samples)
    O.quantize_graph(work / "o2.onnx", work / "static-all.onnx", cfg, "text", contrib_ops=True, samples=samples,
                     exclude_ffn_output=False)
    O.quantize_graph(work / "o2.onnx", work / "static-qop.onnx", dataclasses.replace(cfg, onnx_format="qoperator"),
                     "text", contrib_ops=True, samples=samples)
    O.quantize_graph(work / "plain.onnx", work / "dynamic-plain.onnx", cfg, "text", contrib_ops=False)
    models = {"PyTorch eager (fp32)": loaded.model}
    labels = {"plain.onnx": "ONNX fp32, no optimisation", "o2.onnx": "ONNX fp32, O2 fused",
              "dynamic-plain.onnx": "ONNX dynamic INT8 (no optimisation)", "dynamic.onnx": "ONNX dynamic INT8 (O2)",
              "static.onnx": "ONNX static INT8 QDQ (O2, FFN out fp32)",
              "static-qop.onnx": "ONNX static INT8 QOperator (O2, FFN out fp32)",
              "static-all.onnx": "ONNX static INT8 QDQ (O2, every MatMul)"}
    for file, label in labels.items():
        models[label] = O.OnnxModel(work / file, threads=args.threads)

    raw = task.load("validation", limit=args.eval)
    data = task.preprocess(raw, loaded.preprocessor, max_length=args.max_length, train=False)
    collate = task.collator(loaded.preprocessor)
    accuracy, flips, reference = {}, {}, None
    for label, model in models.items():
        runner = LoadedModel(model=model, config=loaded.config, path=Path(args.model),
                                                 source="", loader="", preprocessor=loaded.preprocessor)
        logits, gold = predict_split(runner, task, data, 32)
        pred = torch.as_tensor(logits).argmax(-1)
        reference = pred if reference is None else reference
        accuracy[label] = (pred == torch.as_tensor(gold)).float().mean().item()
        flips[label] = int((pred != reference).sum())

    batches = {}
    for size in (1, 32):
        batch = collate([data[i] for i in range(size)])
        batch.pop("labels", None)
        batches[size] = batch
    times = {(label, size): [] for label in models for size in batches}
    with torch.inference_mode():
        for size, batch in batches.items():
            for _ in range(3):  # warm-up
                for model in models.values():
                    model(**batch)
            for _ in range(args.repeats):
                for label, model in models.items():  # interleaved
                    start = time.perf_counter()
                    model(**batch)
                    times[(label, size)].append((time.perf_counter() - start) * 1000)
    seq = batches[32]["input_ids"].shape[1]
    print(f"\n{args.threads} thread(s), {args.repeats} interleaved repetitions, median ms; batch 32 padded to {seq} "
          f"tokens; accuracy on {len(data)} SST-2 validation sentences\n")
    print("| model | batch 1 (ms) | batch 32 (ms) | accuracy | predictions != PyTorch |")
    print("|---|---|---|---|---|")
    base = {size: statistics.median(times[(next(iter(models)), size)]) for size in batches}
    for label in models:
        cells = []
        for size in batches:
            ms = statistics.median(times[(label, size)])
            cells.append(f"{ms:.2f} ({base[size] / ms:.2f}x)")
        print(f"| {label} | {' | '.join(cells)} | {accuracy[label]:.3f} | {flips[label]} |")


if __name__ == "__main__":
    main()

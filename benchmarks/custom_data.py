"""Bring your own data, end to end through the CLI: a text dataset given as a CSV file is fine-tuned on,
distilled (3 of 6 layers) and quantized (ONNX Runtime dynamic INT8), each evaluated with the task found again
from the model's record (no dataset flags on `hfcompress evaluate`).

    python benchmarks/custom_data.py [--train-rows 2000]

The CSV is Rotten Tomatoes from the mirror, rewritten with other column names (`review`) and string labels
(`sentiment`: neg / pos), the shape of a user's own export; 10% is held out by `--validation-split`.
Writes benchmarks/results/custom_data.{json,md}; models in benchmarks/work/custom/ (re-runs skip finished steps).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from common import WORK, minilm_path, require_mirror, write_results


def cli(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "hfcompress.cli.main", *args], check=True)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train-rows", type=int, default=2000, help="rows of the CSV (train + 10% validation)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    mirror = require_mirror()
    import datasets

    work = WORK / "custom"
    work.mkdir(parents=True, exist_ok=True)
    csv = work / "reviews.csv"
    if not csv.is_file():
        ds = datasets.load_dataset("parquet", split="train", data_files=str(
            f"{mirror}/cornell-movie-review-data/rotten_tomatoes/train-00000-of-00001.parquet"))
        ds = ds.shuffle(seed=0).select(range(args.train_rows))
        names = ds.features["label"].names
        ds = ds.map(lambda r: {"sentiment": names[r["label"]]}).remove_columns("label").rename_column("text", "review")
        ds.to_csv(str(csv), index=False)
    data = ["--dataset", str(csv), "--text-column", "review", "--label-column", "sentiment", "--validation-split", "0.1"]
    common = ["--threads", str(args.threads)]
    steps = {
        "teacher": ["train", "--model", minilm_path(), *data, "--output-dir", str(work / "teacher"), "--epochs", "2",
                    "--lr", "1e-4", "--batch-size", "32", "--save-steps", "100000", *common],
        "student": ["distill", "--teacher", str(work / "teacher"), *data, "--output-dir", str(work / "student"),
                    "--student-layers", "1,3,5", "--epochs", "3", "--lr", "1e-4", "--offline-teacher",
                    "--no-eval-at-end", "--save-steps", "100000", *common],
        "teacher-onnx-fp32": ["quantize", "--model", str(work / "teacher"), *data, "--output-dir",
                              str(work / "teacher-onnx-fp32"), "--method", "onnx-fp32", *common],
        "student-int8": ["quantize", "--model", str(work / "student"), *data, "--output-dir",
                         str(work / "student-int8"), "--method", "onnx-dynamic", *common],
    }
    seconds, records = {}, {}
    for name, argv in steps.items():
        if not (work / name / "config.json").is_file():
            seconds[name] = round(cli(*argv), 1)
        out = work / f"{name}.eval.json"
        if not out.is_file():  # no dataset flags: the task comes back from the model's record
            cli("evaluate", "--model", str(work / name), "--batch-size", "32", "--json", str(out), *common)
        records[name] = json.loads(out.read_text())
    base = records["teacher"]
    # speed-ups against the stronger fp32 baseline a user already has: the teacher in PyTorch or on ONNX Runtime
    best = min(records["teacher"]["efficiency"]["latency_ms_median"],
               records["teacher-onnx-fp32"]["efficiency"]["latency_ms_median"])
    rows = []
    for name, rec in records.items():
        eff = rec["efficiency"]
        rows.append(f"| {name} | {rec['metrics']['accuracy']:.4f} | {100 * (rec['metrics']['accuracy'] - base['metrics']['accuracy']):+.2f} | "
                    f"{eff['size_on_disk_bytes'] / 2**20:.1f} | {base['efficiency']['size_on_disk_bytes'] / eff['size_on_disk_bytes']:.2f}x | "
                    f"{eff['latency_ms_median']:.1f} | {base['efficiency']['latency_ms_median'] / eff['latency_ms_median']:.2f}x | "
                    f"{best / eff['latency_ms_median']:.2f}x | "
                    f"{rec['loader']} |")
    md = "\n".join([
        "# Your own data, end to end through the CLI", "",
        f"Command: `python benchmarks/custom_data.py --train-rows {args.train_rows}` — a CSV of {args.train_rows} "
        "Rotten Tomatoes rows (`review`, `sentiment` = neg/pos), 10% held out by `--validation-split 0.1`; "
        "all-MiniLM-L6-v2 fine-tuned 2 epochs → DistilBERT-style student (layers 1, 3, 5; 3 epochs, offline teacher "
        f"logits) → ONNX Runtime dynamic INT8; evaluated on the held-out split with the task read back from each "
        f"model's record; {args.threads} threads. Latency: evaluation's batch of 32 (not interleaved: indicative).", "",
        "| model | accuracy | change (points) | size (MiB) | smaller | latency b32 (ms) | vs PyTorch eager | "
        "vs the faster fp32 teacher (eager or ONNX Runtime) | runtime |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |", *rows, "",
        f"Task as stored in the records: `{json.dumps(base['task'])[:300]}`", ""])
    write_results("custom_data", {"records": records, "seconds": seconds}, md)
    print(md)


if __name__ == "__main__":
    main()

"""all-MiniLM-L6-v2 compressed as an embedding model, measured: the shipped recipe recipes/embeddings-minilm.yaml
(distil 3 of 6 layers on embeddings -> vocabulary pruning -> ONNX Runtime dynamic INT8), run from the real model.

    .venv/bin/python benchmarks/embeddings.py [--threads 1] [--rounds 15]

Rows: the original on PyTorch eager, the original on ONNX Runtime fp32 (``quantize --method onnx-fp32``, the
stronger fp32 baseline where it is faster), and each pipeline stage. Columns: STS-B validation Spearman of
the cosine similarity of the two sentences' embeddings (all 1,500 pairs, MTEB's STS score) and Pearson, size
on disk, and latency of embedding one fixed batch of STS-B validation sentences at batch 1 and 32, all models
timed interleaved in this run, with speed-ups against both baselines. The recipe's ``model`` and
``output_dir`` are replaced by the real model and benchmarks/work/embeddings-minilm; everything else is the
recipe. Re-running resumes: finished stages and evaluations are not redone (timing always is).
Writes benchmarks/results/embeddings.json, then embeddings.md from it.
"""

from __future__ import annotations

import argparse
import copy
import json
import time

from common import RESULTS, ROOT, WORK, evaluate_cached, minilm_path, require_mirror, write_results

from hfcompress.api import run_method
from hfcompress.config import EvalConfig, load_recipe
from hfcompress.evaluation.efficiency import environment, interleaved_latency, set_threads, size_on_disk
from hfcompress.hub import load
from hfcompress.pipeline.run import PipelineConfig, run_pipeline
from hfcompress.quantize import QuantizeConfig
from hfcompress.tasks import get_task

BATCH_SIZES = (1, 32)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1, help="threads for every timing (same for all models)")
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    require_mirror()
    set_threads(args.threads)  # training, evaluation and timing alike: no oversubscribed cores on a shared box
    start = time.perf_counter()
    recipe = load_recipe(ROOT / "recipes" / "embeddings-minilm.yaml")
    work = WORK / "embeddings-minilm"
    data = copy.deepcopy(recipe.pipeline.to_dict())
    data.update(model=minilm_path(), output_dir=str(work))
    pipeline = PipelineConfig.from_dict(data, where="recipes/embeddings-minilm.yaml.pipeline")
    stages = pipeline.plan()

    ort = WORK / "embeddings-minilm-ort-fp32"
    if not (ort / "config.json").is_file():
        run_method("quantize", QuantizeConfig(task="stsb", model=minilm_path(), output_dir=str(ort), method="onnx-fp32"))
    fresh = not all(s.done for s in stages)
    t0 = time.perf_counter()
    run_pipeline(pipeline)  # each stage evaluated on the whole STS-B validation split (records beside it)
    pipeline_seconds = time.perf_counter() - t0

    models = {"original (PyTorch eager)": minilm_path(), "original (ONNX Runtime fp32)": str(ort)}
    labels = {"01-distill": "3-layer distilled", "02-prune": "+ vocabulary pruned", "03-quantize": "+ INT8 (onnx-dynamic)"}
    models.update({labels[s.name]: str(s.output_dir) for s in stages})
    records = {}
    for i, (name, path) in enumerate(models.items()):
        stage = next((s for s in stages if str(s.output_dir) == path), None)
        rec_path = stage.record_path if stage else work.parent / f"embeddings-minilm-baseline-{i}.eval.json"
        records[name] = evaluate_cached(rec_path, EvalConfig(task="stsb", model=path, batch_size=32), label=name)

    # interleaved timing: one fixed batch of STS-B validation sentences, tokenised by each model's own tokenizer
    set_threads(args.threads)
    loaded = {name: load(path) for name, path in models.items()}
    sentences = [s for s in get_task("stsb").load("validation", limit=max(BATCH_SIZES))["sentence1"]]
    rows = {name: {"path": models[name], "loader": lm.loader, "size_on_disk_bytes": size_on_disk(lm.weight_files()),
                   "spearman": records[name]["metrics"]["spearmanr"], "pearson": records[name]["metrics"]["pearson"],
                   "n_pairs": records[name]["n_examples"], "methods": lm.record.methods if lm.record else [],
                   "vocab_size": int(lm.config.vocab_size), "layers": int(lm.config.num_hidden_layers)}
            for name, lm in loaded.items()}
    for bs in BATCH_SIZES:
        batches = {name: lm.preprocessor(sentences[:bs], padding=True, truncation=True, max_length=lm.max_length,
                                         return_tensors="pt") for name, lm in loaded.items()}
        import torch

        def run(name):
            with torch.inference_mode():
                return loaded[name].embed(batches[name])

        timing = interleaved_latency({n: (lambda n=n: run(n)) for n in loaded}, rounds=args.rounds)
        for name, t in timing.items():
            t["sequence_length"] = int(batches[name]["input_ids"].shape[1])  # padded width: tokenizers differ
            rows[name][f"batch_{bs}"] = t
    eager, ortname = "original (PyTorch eager)", "original (ONNX Runtime fp32)"
    for name, row in rows.items():
        row["size_ratio"] = rows[eager]["size_on_disk_bytes"] / row["size_on_disk_bytes"]
        for bs in BATCH_SIZES:
            t = row[f"batch_{bs}"]
            t["speedup_vs_eager"] = rows[eager][f"batch_{bs}"]["latency_ms_median"] / t["latency_ms_median"]
            t["speedup_vs_ort_fp32"] = rows[ortname][f"batch_{bs}"]["latency_ms_median"] / t["latency_ms_median"]
    distill = load_recipe(ROOT / "recipes" / "embeddings-minilm.yaml").pipeline.stages[0]["distill"]
    distilled = load(models["3-layer distilled"]).record.stages[-1].result
    result = {"threads": args.threads, "rounds": args.rounds, "batch_sizes": list(BATCH_SIZES),
              "distill_budget": {**distill, "train_sentences": distilled.get("train_sentences"),
                                 "train_seconds": distilled.get("train_seconds"),
                                 "global_step": distilled.get("global_step")},
              "seconds": round(time.perf_counter() - start, 1),
              "environment": environment(args.threads), "models": rows}
    # the run that trained the models measured the whole benchmark's time; a resumed run only re-times them
    previous = RESULTS / "embeddings.json"
    if fresh:
        result["fresh_run"] = {"pipeline_seconds": round(pipeline_seconds, 1), "seconds": result["seconds"]}
    elif previous.is_file():
        result["fresh_run"] = json.loads(previous.read_text()).get("fresh_run")
    write_results("embeddings", result, markdown(result))


def markdown(r: dict) -> str:
    b = r["distill_budget"]
    mib = lambda n: n / 2 ** 20  # noqa: E731
    lines = [
        "# all-MiniLM-L6-v2 compressed as an embedding model (STS-B)",
        "",
        "`python benchmarks/embeddings.py` — the recipe `recipes/embeddings-minilm.yaml` run from the real",
        "all-MiniLM-L6-v2 (sentence-transformers layout, pooling + normalisation kept): distil 3 of 6 layers "
        "(teacher layers " f"{b['student']['layers']}) on the teacher's embeddings (MSE + cosine distance) → vocabulary "
        "pruning → ONNX Runtime dynamic INT8. Every folder loads with `SentenceTransformer(path)` "
        "(the ONNX one with `trust_remote_code=True`).",
        "",
        f"Distillation budget: {b['max_train_samples']} STS-B training pairs = {b['train_sentences']} distinct sentences, "
        f"{b['epochs']:g} epoch(s), batch {b['batch_size']}, learning rate {b['learning_rate']:g} "
        f"({b['global_step']} steps, {b['train_seconds']:.0f} s)"
        + (f"; on the run that trained the models: whole pipeline {fresh['pipeline_seconds']:.0f} s, whole benchmark "
           f"{fresh['seconds']:.0f} s" if (fresh := r.get("fresh_run")) else "")
        + f" on {r['environment']['cpu']}, {r['threads']} thread(s), a 2-core machine shared with other jobs "
        f"(this run: {r['seconds']:.0f} s).",
        "",
        "STS-B: Spearman (and Pearson) of the cosine similarity of the two sentences' embeddings against the gold "
        "score, on all validation pairs (MTEB's STS main score). Latency: embedding one fixed batch of STS-B "
        f"validation sentences (tokenised by each model's own tokenizer), {r['threads']} thread(s), all models "
        f"timed interleaved in one run ({r['rounds']} rounds); speed-ups are ratios of medians. The padded batch "
        "width (tokens) differs where the tokenizer does: the vocabulary-pruned one splits validation words that "
        "the training text never produced into more, shorter pieces.",
        "",
        "| model | STS-B Spearman | Pearson | layers | vocab | size (MiB) | smaller | "
        + " | ".join(f"batch {bs} (ms) | tokens | vs eager | vs ORT fp32" for bs in r["batch_sizes"]) + " |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | " + " | ".join("---: | ---: | ---: | ---:" for _ in r["batch_sizes"])
        + " |",
    ]
    for name, m in r["models"].items():
        cells = [f"{m['spearman']:.4f}", f"{m['pearson']:.4f}", str(m["layers"]), f"{m['vocab_size']:,}",
                 f"{mib(m['size_on_disk_bytes']):.1f}", f"{m['size_ratio']:.2f}x"]
        for bs in r["batch_sizes"]:
            t = m[f"batch_{bs}"]
            cells += [f"{t['latency_ms_median']:.2f}", str(t["sequence_length"]), f"{t['speedup_vs_eager']:.2f}x",
                      f"{t['speedup_vs_ort_fp32']:.2f}x"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    env = r["environment"]
    lines += ["", f"torch {env.get('torch')}, transformers {env.get('transformers')}, CPU flags: "
              f"{', '.join(env.get('cpu_flags', [])[:8]) or 'n/a'}.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

"""Benchmark: unstructured magnitude pruning at 50/70/90% sparsity, gradual vs one-shot, SST-2.

    flock /tmp/hfcompress-cpu.lock .venv/bin/python benchmarks/prune_unstructured.py

Three variants per sparsity, same recovery budget for the two that train:
  one-shot        global magnitude pruning, no training;
  one-shot + FT   pruned once, then fine-tuned with the masks held fixed;
  gradual         pruned on the cubic schedule (Zhu & Gupta 2017) during the same fine-tune
                  (target reached at 70% of the steps, 10 mask updates).
Each model is one ``hfcompress.compress`` of the teacher's folder, saved packed (bitmask + non-zeros in
safetensors), reloaded and evaluated.
"""

from __future__ import annotations

from prune_common import (WORK, add_speedups, base_args, environment, evaluate, plot, pruned_row, start, table,
                          write_results)


def main() -> None:
    p = base_args(__doc__, train_samples=480)
    p.add_argument("--sparsities", type=float, nargs="+", default=[0.5, 0.7, 0.9])
    args = start(p)
    out_root = WORK / "prune-unstructured"
    base = evaluate(args.model, "sst2", args)
    rows = []
    for s in args.sparsities:
        for variant in ("one-shot", "one-shot + FT", "gradual"):
            folder = out_root / f"u{round(s * 100):02d}-{variant.replace(' + ', '-').replace(' ', '')}"
            row, result = pruned_row(args.model, "sst2", folder, args, base, method="unstructured", amount=s,
                                     scope="global", schedule="gradual" if variant == "gradual" else "oneshot",
                                     finetune_epochs=0.0 if variant == "one-shot" else 1.0, storage="packed")
            rows.append({**row, "sparsity_target": s, "variant": variant, "sparsity_reached": result["sparsity"],
                         "size_ratio": row["size_mib"] / base["size_mib"]})
    base_ms = add_speedups(rows, args.model, "sst2", args)
    for r in rows:
        r["latency_ratio"] = 1.0 / r["speedup"]
    data = {"benchmark": "prune_unstructured", "model": args.model, "task": "sst2",
            "eval_examples": base["n_examples"],
            "recovery": {"train_samples": args.train_samples, "epochs": 1, "learning_rate": args.learning_rate,
                         "batch_size": args.batch_size, "schedule": "cubic, end at 70% of steps, 10 updates"},
            "baseline": base, "baseline_latency_ms_interleaved": base_ms, "rows": rows, "environment": environment(args)}
    data["scope"] = "global over all Linear weight matrices except the classifier (embeddings stay dense)"
    md = f"""# Unstructured magnitude pruning: SST-2, all-MiniLM-L6-v2 teacher

Command: `flock /tmp/hfcompress-cpu.lock .venv/bin/python benchmarks/prune_unstructured.py`

- Global magnitude pruning of every Linear weight matrix except the classifier; embeddings (11.7M of 22.7M
  parameters) stay dense, so whole-model sparsity is about half the matrix sparsity.
- Fine-tuned variants: one epoch over {args.train_samples} SST-2 train sentences, lr {args.learning_rate},
  batch {args.batch_size}; gradual = cubic schedule (Zhu & Gupta 2017) reaching the target at 70% of the steps.
- Evaluation: SST-2 validation, {base['n_examples']} sentences; models saved packed (bitmask + non-zero values in
  safetensors), reloaded through `hfcompress.load`. Unpruned: accuracy {base['accuracy']:.4f},
  {base['size_mib']:.1f} MiB, {base_ms:.1f} ms / batch of 32 (all models timed alternating round by round in one process,
  {args.threads} threads; latency ratio = pruned / unpruned).
- **No speedup is expected**: zeros in dense matrices cost the same in dense kernels (latency ratio ~1.0 below);
  storage shrinks only because the weights are stored packed.

""" + table(rows, [("sparsity_target", "target", ".0%"), ("variant", "variant", ""),
                   ("sparsity_reached", "matrix sparsity", ".3f"), ("accuracy", "accuracy", ".4f"),
                   ("delta_points", "delta (points)", "+.2f"), ("size_mib", "MiB on disk", ".1f"),
                   ("size_ratio", "size ratio", ".2f"), ("latency_ratio", "latency ratio", ".2f")])
    series = {}
    for v in ("one-shot", "one-shot + FT", "gradual"):
        pts = [r for r in rows if r["variant"] == v]
        series[v] = ([r["sparsity_target"] for r in pts], [r["accuracy"] for r in pts])
    png = plot("prune_unstructured", series, "weight sparsity (encoder matrices)", base["accuracy"],
               "SST-2: unstructured pruning (MiniLM-L6)")
    md += f"\n![accuracy vs sparsity]({png.name})\n"
    write_results("prune_unstructured", data, md)


if __name__ == "__main__":
    main()

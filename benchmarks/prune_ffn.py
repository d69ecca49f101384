"""Benchmark: SST-2 accuracy and speedup with 30/50/70% of the FFN neurons removed.

    flock /tmp/hfcompress-cpu.lock .venv/bin/python benchmarks/prune_ffn.py

Neurons scored by first-order Taylor importance (|sum activation x gradient| on ``--score-samples``
SST-2 train sentences), the same fraction removed in every layer, physically sliced, saved,
reloaded, evaluated; then the same pruning (same scores, same neurons) followed by a short recovery
fine-tune, evaluated again. Each model is one ``hfcompress.compress`` of the teacher's folder.
"""

from __future__ import annotations

from prune_common import (WORK, add_speedups, base_args, environment, evaluate, plot, pruned_row, start, table,
                          write_results)


def main() -> None:
    p = base_args(__doc__, train_samples=640)
    p.add_argument("--amounts", type=float, nargs="+", default=[0.3, 0.5, 0.7])
    args = start(p)
    out_root = WORK / "prune-ffn"
    base = evaluate(args.model, "sst2", args)
    rows = []
    for amount in args.amounts:
        for ft in (False, True):
            folder = out_root / f"ffn{round(amount * 100):02d}{'-ft' if ft else ''}"
            row, result = pruned_row(args.model, "sst2", folder, args, base, method="ffn", importance="gradient",
                                     amount=amount, scope="layer", finetune_epochs=1.0 if ft else 0.0)
            rows.append({**row, "amount": amount, "ffn_width": result["ffn_widths"][0], "recovery": ft})
    base_ms = add_speedups(rows, args.model, "sst2", args)
    data = {"benchmark": "prune_ffn", "model": args.model, "task": "sst2", "eval_examples": base["n_examples"],
            "importance": "first-order Taylor on FFN activations", "scope": "layer (same fraction per layer)",
            "score_samples": args.score_samples,
            "recovery": {"train_samples": args.train_samples, "epochs": 1, "learning_rate": args.learning_rate,
                         "batch_size": args.batch_size},
            "baseline": base, "baseline_latency_ms_interleaved": base_ms, "rows": rows,
            "environment": environment(args)}
    md = f"""# FFN neuron pruning: SST-2, all-MiniLM-L6-v2 teacher (FFN width 1536)

Command: `flock /tmp/hfcompress-cpu.lock .venv/bin/python benchmarks/prune_ffn.py`

- Importance: first-order Taylor (|sum activation x gradient|) on {args.score_samples} SST-2 train sentences; the same
  fraction removed in every layer; neurons physically sliced (intermediate rows, output columns).
- Evaluation: SST-2 validation, {base['n_examples']} sentences, each model reloaded from disk.
- Recovery: the same pruned model fine-tuned one epoch over {args.train_samples} train sentences, lr {args.learning_rate}.
- Latency: batch 32 SST-2 sentences, fp32, {args.threads} threads; all models timed alternating round by round in
  one process ({3 * args.repeats} rounds, median); speedup = unpruned latency ({base_ms:.1f} ms) / pruned latency.
  Shared machine: ratios are noisy (~+-10%).
- Unpruned accuracy: {base['accuracy']:.4f}, {base['parameters']:,} parameters (11.7M of them word embeddings).

""" + table(rows, [("amount", "FFN removed", ".0%"), ("ffn_width", "width", ""), ("recovery", "recovery", ""),
                   ("accuracy", "accuracy", ".4f"), ("delta_points", "delta (points)", "+.2f"),
                   ("latency_ms", "latency ms", ".1f"), ("speedup", "speedup", ".2f"),
                   ("parameters", "params", ","), ("size_mib", "MiB", ".1f")])
    png = plot("prune_ffn", {
        "no recovery": ([r["amount"] for r in rows if not r["recovery"]], [r["accuracy"] for r in rows if not r["recovery"]]),
        "with recovery": ([r["amount"] for r in rows if r["recovery"]], [r["accuracy"] for r in rows if r["recovery"]]),
    }, "fraction of FFN neurons removed", base["accuracy"], "SST-2: FFN pruning (MiniLM-L6)")
    md += f"\n![accuracy vs FFN neurons removed]({png.name})\n"
    write_results("prune_ffn", data, md)


if __name__ == "__main__":
    main()

"""Benchmark: SST-2 accuracy vs fraction of attention heads removed, with and without recovery.

    flock /tmp/hfcompress-cpu.lock .venv/bin/python benchmarks/prune_heads.py

Heads are ranked once on the unpruned teacher by Michel et al. (2019) gradient importance
(``--score-samples`` SST-2 train sentences), removed globally (lowest first): each fraction is one
``hfcompress.compress`` of the teacher's folder with those heads given explicitly (``prune.layers``),
physically sliced, saved, reloaded and evaluated. Some fractions also get a short recovery fine-tune: on hard labels
(``--recovery plain``), distilled from the unpruned model (``--recovery distill``: a frozen copy of the
teacher, logits KD + weighted CE, ``DistillationTrainer``), or both side by side (``--recovery both``,
same data, steps and learning rate; results in ``prune_heads_kd.{md,json}``):

    flock /tmp/hfcompress-cpu.lock .venv/bin/python benchmarks/prune_heads.py --recovery both --fractions 0.0 0.4 0.6
"""

from __future__ import annotations

import sys
import time

from prune_common import (WORK, add_speedups, base_args, environment, evaluate, plot, pruned_row, start, table,
                          write_results)


def main() -> None:
    p = base_args(__doc__, train_samples=640)
    p.add_argument("--fractions", type=float, nargs="+", default=[0.0, 0.2, 0.4, 0.5, 0.6, 0.8])
    p.add_argument("--recover", type=float, nargs="+", default=[0.0, 0.4, 0.6],
                   help="fractions that also get a recovery fine-tune")
    p.add_argument("--recovery", choices=["plain", "distill", "both"], default="plain",
                   help="how those fractions recover: hard labels (plain), distillation from the unpruned model "
                        "(distill), or one row of each (both)")
    p.add_argument("--recovery-temperature", type=float, default=2.0, help="distill: temperature of the KD term")
    p.add_argument("--recovery-ce-weight", type=float, default=0.5, help="distill: weight of the hard-label term")
    p.add_argument("--name", help="results name (default: prune_heads; prune_heads_kd with --recovery distill/both)")
    args = start(p)
    name = args.name or ("prune_heads" if args.recovery == "plain" else "prune_heads_kd")
    kinds = {"plain": ["plain"], "distill": ["distill"], "both": ["plain", "distill"]}[args.recovery]

    import hfcompress
    from hfcompress.prune import heads as H
    from hfcompress.prune.api import score_batches
    from hfcompress.prune.config import PruneConfig

    out_root = WORK / "prune-heads"

    # heads ranked once, on the unpruned teacher; each fraction then prunes the teacher's folder with
    # ``layers`` (the heads to remove, explicit: no scoring inside compress)
    t0 = time.time()
    task = hfcompress.get_task("sst2")
    teacher = hfcompress.load(args.model, task=task)
    scoring = PruneConfig(task="sst2", model=args.model, output_dir=str(out_root), method="heads",
                          importance="gradient", amount=0.0, score_samples=args.score_samples,
                          batch_size=args.batch_size, threads=args.threads)
    scores = H.head_importance(teacher.model, "gradient", score_batches(task, teacher.preprocessor, scoring))
    counts = H.heads_per_layer(teacher.model)
    score_seconds = time.time() - t0
    del teacher

    base = evaluate(args.model, "sst2", args)
    suffix = {None: "", "plain": "-ft", "distill": "-kd"}
    rows = []
    for frac in args.fractions:
        remove = H.heads_to_remove(counts, scores, amount=frac)
        layers = {i: r for i, r in enumerate(remove) if r}
        for kind in [None, *(kinds if frac in args.recover else [])]:
            recovery = {} if kind is None else dict(
                finetune_epochs=1.0, recovery=kind, recovery_temperature=args.recovery_temperature,
                recovery_ce_weight=args.recovery_ce_weight)
            folder = out_root / f"heads{round(frac * 100):02d}{suffix[kind]}"
            row, result = pruned_row(args.model, "sst2", folder, args, base, method="heads", layers=layers,
                                     **recovery)
            rows.append({**row, "fraction": frac, "heads_removed": result["heads_removed"],
                         "heads_per_layer": result["heads_per_layer"], "recovery": kind is not None,
                         "recovery_kind": kind, "loss_terms": result.get("recovery", {}).get("loss_terms")})
    base_ms = add_speedups(rows, args.model, "sst2", args)

    data = {"benchmark": "prune_heads", "model": args.model, "task": "sst2", "eval_examples": base["n_examples"],
            "importance": "gradient (Michel et al. 2019), computed once on the unpruned model",
            "score_samples": args.score_samples, "score_seconds": score_seconds,
            "recovery": {"kinds": kinds, "train_samples": args.train_samples, "epochs": 1,
                         "learning_rate": args.learning_rate, "batch_size": args.batch_size,
                         "distill": ({"teacher": "unpruned model (frozen copy)", "temperature": args.recovery_temperature,
                                      "losses": {"logits": 1.0, "ce": args.recovery_ce_weight}}
                                     if "distill" in kinds else None)},
            "baseline": base, "baseline_latency_ms_interleaved": base_ms, "rows": rows,
            "environment": environment(args)}
    recovery_text = {
        "plain": "Plain Trainer on hard labels.",
        "distill": (f"Distilled from the unpruned model (a frozen copy, `recovery: distill`): logits KD at T="
                    f"{args.recovery_temperature} (weight 1) + hard-label CE (weight {args.recovery_ce_weight})."),
    }
    recovery_text = " ".join(f"`{k}`: {recovery_text[k]}" for k in kinds) if len(kinds) > 1 else recovery_text[kinds[0]]
    command = " ".join(["benchmarks/prune_heads.py", *sys.argv[1:]])
    ok = [r for r in rows if r["fraction"] >= 0.4 and r["delta_points"] >= -1.0]
    goal = (f"**Goal (>= 40% heads removed with <= 1 point lost): met** at {max(r['fraction'] for r in ok):.0%}"
            if ok else "**Goal (>= 40% heads removed with <= 1 point lost): not met** in this run")
    md = f"""# Attention-head pruning: SST-2, all-MiniLM-L6-v2 teacher (6 layers x 12 heads)

Command: `flock /tmp/hfcompress-cpu.lock .venv/bin/python {command}`

- Ranking: gradient head importance (Michel et al. 2019) on {args.score_samples} SST-2 train sentences, computed once
  on the unpruned model; lowest-scoring heads removed globally; heads physically sliced out (Q/K/V rows, output columns).
- Evaluation: SST-2 validation, {base['n_examples']} sentences, every model reloaded from disk through `hfcompress.load`.
- Recovery: one epoch over {args.train_samples} SST-2 train sentences, lr {args.learning_rate}, batch {args.batch_size}.
  {recovery_text} The 0% row with recovery shows what the fine-tune alone does.
- Latency: batch 32 SST-2 sentences, fp32, {args.threads} threads; all models timed alternating round by round in
  one process ({3 * args.repeats} rounds, median) so each sees the same machine load; speedup = unpruned
  latency ({base_ms:.1f} ms) / pruned latency. The machine is shared by other jobs: ratios are noisy (~+-10%).
- Unpruned accuracy: {base['accuracy']:.4f}.

{goal}.

""" + table(rows, [("fraction", "heads removed", ".0%"), ("heads_removed", "#", ""), ("recovery_kind", "recovery", ""),
                   ("accuracy", "accuracy", ".4f"), ("delta_points", "delta (points)", "+.2f"),
                   ("latency_ms", "latency ms", ".1f"), ("speedup", "speedup", ".2f"),
                   ("parameters", "params", ","), ("size_mib", "MiB", ".1f"),
                   ("train_seconds", "recovery s", ".0f")])
    md += "\nHeads kept per layer: " + "; ".join(
        f"{r['fraction']:.0%}: {r['heads_per_layer']}" for r in rows if not r["recovery"]) + "\n"
    labels = {None: "no recovery", "plain": "with recovery" if kinds == ["plain"] else "plain recovery",
              "distill": "KD recovery (from the unpruned model)"}
    series = {labels[k]: ([r["fraction"] for r in rows if r["recovery_kind"] == k],
                          [r["accuracy"] for r in rows if r["recovery_kind"] == k]) for k in [None, *kinds]}
    png = plot(name, series, "fraction of heads removed", base["accuracy"], "SST-2: head pruning (MiniLM-L6)")
    md += f"\n![accuracy vs heads removed]({png.name})\n"
    write_results(name, data, md)


if __name__ == "__main__":
    main()

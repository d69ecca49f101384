"""Knowledge distillation on SST-2: students of the all-MiniLM-L6-v2 SST-2 teacher.

    python benchmarks/distill_sst2.py --part main       # -> results/distill_sst2.{json,md}
    python benchmarks/distill_sst2.py --part ablation   # -> results/distill_sst2_ablation.{json,md}

``main``: DistilBERT-style 3-layer student (teacher layers 1,3,5, weights copied) trained with
logits+CE, once with the teacher online and once with precomputed (offline) teacher logits
(the speed-up of offline KD); TinyBERT-style 4-layer, 192-wide student trained with
hidden+attention+logits. ``ablation``: the same DistilBERT-3 student with each loss family,
over seeds. Every student trains on the same seeded subset of the SST-2 train split
(``--train-samples``, 1 epoch) and is evaluated on the full validation split (872 sentences)
through ``hfcompress.evaluation`` (as ``hfcompress evaluate`` does), at one batch size and one
thread count; throughput ratios are against the teacher measured in the same run.
Needs benchmarks/work/teacher-sst2 (``python benchmarks/teacher_sst2.py``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
from common import WORK, require_mirror, run_evaluated, write_results

from hfcompress.config import EvalConfig
from hfcompress.distill import DistillConfig
from hfcompress.evaluation import evaluate_model

TEACHER = WORK / "teacher-sst2"
LOGITS = [{"name": "logits", "weight": 1.0}, {"name": "ce", "weight": 0.5}]
HIDDEN = {"name": "hidden", "weight": 1.0, "embeddings": True}
ATTENTION = {"name": "attention", "weight": 1.0}
CRD = {"name": "crd", "weight": 0.2, "negatives": 1024}
ABLATION = {"logits": LOGITS, "logits+hidden": [*LOGITS, HIDDEN], "logits+hidden+attention": [*LOGITS, HIDDEN, ATTENTION],
            "logits+crd": [*LOGITS, CRD]}


def run(name: str, args, student: dict, losses: list, seed: int = 42, **extra) -> dict:
    cfg = DistillConfig.from_dict(dict(
        task="sst2", teacher=args.teacher, output_dir=str(WORK / "distill" / f"{args.results}-{name}"), student=student, losses=losses,
        temperature=2.0, epochs=args.epochs, learning_rate=extra.pop("learning_rate", 1e-4), batch_size=32,
        eval_batch_size=args.batch, max_train_samples=args.train_samples, seed=seed, save_steps=10_000,
        logging_steps=25, threads=args.threads, eval_teacher=False, eval_repeats=args.repeats, **extra))
    start = time.perf_counter()
    out, evals = run_evaluated("distill", cfg, overwrite=True)
    wall = time.perf_counter() - start
    ev = evals["student"]
    return {"name": name, "seed": seed, "config": cfg.to_dict(), "train_seconds": out["train_seconds"],
            "wall_seconds": wall, "train_loss": out["train_loss"], "accuracy": ev["metrics"]["accuracy"],
            "throughput": ev["efficiency"]["throughput_examples_per_s"],
            "latency_ms_median": ev["efficiency"]["latency_ms_median"], "parameters": ev["efficiency"]["parameters"],
            "size_on_disk_bytes": ev["efficiency"]["size_on_disk_bytes"],
            "offline_precompute_seconds": out["offline_precompute_seconds"], "evaluation": ev}


def teacher_eval(args) -> dict:
    return evaluate_model(EvalConfig(task="sst2", model=args.teacher, batch_size=args.batch, threads=args.threads,
                                     repeats=args.repeats))


def ratio_row(r: dict, teacher: dict) -> str:
    t_acc, t_tp = teacher["metrics"]["accuracy"], teacher["efficiency"]["throughput_examples_per_s"]
    return (f"| {r['name']} | {r['accuracy']:.4f} | {r['accuracy'] / t_acc:.1%} | {r['throughput']:.1f} | "
            f"{r['throughput'] / t_tp:.2f}x | {r['parameters'] / 1e6:.1f} M | {r['train_seconds'] / 60:.1f} min |")


HEADER = ("| model | accuracy | retention | throughput (ex/s) | speed-up | parameters | training time |\n"
          "| --- | --- | --- | --- | --- | --- | --- |")


def main_part(args) -> None:
    teacher = teacher_eval(args)
    t_row = {"name": "teacher (MiniLM-L6, 6 layers)", "accuracy": teacher["metrics"]["accuracy"],
             "throughput": teacher["efficiency"]["throughput_examples_per_s"],
             "parameters": teacher["efficiency"]["parameters"], "train_seconds": float("nan")}
    distil = {"kind": "layers", "layers": [1, 3, 5]}
    tiny = {"kind": "tinybert", "num_layers": 4, "hidden_size": 192, "intermediate_size": 768,
            "num_attention_heads": 12, "embedding_init": "teacher_svd"}
    runs = [run("distilbert3-offline", args, distil, LOGITS, offline_teacher=True),
            run("distilbert3-online", args, distil, LOGITS),
            run("tinybert4-192", args, tiny, [*LOGITS, HIDDEN, ATTENTION], learning_rate=3e-4)]
    off, on = runs[0], runs[1]
    speed = on["train_seconds"] / off["train_seconds"]
    data = {"benchmark": "distill_sst2", "teacher": teacher, "runs": runs,
            "offline_kd": {"online_train_seconds": on["train_seconds"], "offline_train_seconds": off["train_seconds"],
                           "offline_precompute_seconds": off["offline_precompute_seconds"],
                           "speedup_train_loop": speed},
            "settings": vars(args)}
    rows = "\n".join(ratio_row(r, teacher) for r in [t_row, *runs])
    md = f"""# Knowledge distillation on SST-2 (teacher: all-MiniLM-L6-v2 fine-tuned on SST-2)

Command: `python benchmarks/distill_sst2.py {' '.join(sys.argv[1:])}`

Students train on a seeded sample of {args.train_samples} SST-2 train phrases for {args.epochs} epoch(s) (batch 32);
all models are evaluated on the full SST-2 validation split (872 sentences) by `hfcompress.evaluation`,
throughput at batch {args.batch} on {args.threads} threads, in this one run
({teacher['environment']['cpu']}, torch {teacher['environment']['torch']}, transformers {teacher['environment']['transformers']}).
CPU shared with other jobs: the throughput column times each model once, minutes apart, under
changing load; the speed-ups to quote are in `{args.results}_speed.md` (`--part speed`: all models timed
in alternation on the same batch).

{HEADER}
{rows}

- distilbert3: teacher layers 1, 3, 5 kept with their weights (DistilBERT-style); loss = KL·T² (T=2) + 0.5·CE.
- tinybert4-192: 4 layers, hidden 192, FFN 768, 12 heads, fresh weights except embeddings projected from the
  teacher's (SVD); loss = logits + 0.5·CE + hidden (embeddings + uniform layer map, learned projections) + attention.
- Offline KD (teacher logits precomputed once): training loop {off['train_seconds']:.0f} s vs {on['train_seconds']:.0f} s
  online = **{speed:.2f}x** faster per epoch; the one-off precompute took {off['offline_precompute_seconds'] or float('nan'):.0f} s.
"""
    write_results(args.results, data, md)
    print(md)


def ablation_part(args) -> None:
    teacher = teacher_eval(args)
    distil = {"kind": "layers", "layers": [1, 3, 5]}
    runs = []
    for seed in args.seeds:
        for name, losses in ABLATION.items():
            runs.append(run(f"ablation-{name}-s{seed}", args, distil, losses, seed=seed,
                            offline_teacher=(name == "logits")))
            write_ablation(args, teacher, runs)  # partial results survive an interrupted run


def write_ablation(args, teacher: dict, runs: list) -> None:
    t_acc = teacher["metrics"]["accuracy"]
    lines = []
    summary = {}
    for name in ABLATION:
        accs = [r["accuracy"] for r in runs if r["name"].startswith(f"ablation-{name}-s")]
        if not accs:
            continue
        mean = statistics.mean(accs)
        spread = (max(accs) - min(accs)) / 2 if len(accs) > 1 else 0.0
        summary[name] = {"accuracies": accs, "mean": mean, "half_range": spread}
        lines.append(f"| {name} | {mean:.4f} ± {spread:.4f} | {mean / t_acc:.1%} | {', '.join(f'{a:.4f}' for a in accs)} |")
    data = {"benchmark": "distill_sst2_ablation", "teacher": teacher, "runs": runs, "summary": summary,
            "settings": vars(args)}
    md = f"""# Loss ablation: DistilBERT-style 3-layer student of the SST-2 MiniLM teacher

Command: `python benchmarks/distill_sst2.py {' '.join(sys.argv[1:])}` (training and evaluation on {args.threads} thread(s))

Same student (teacher layers 1, 3, 5 copied), same {args.train_samples} seeded SST-2 train phrases, {args.epochs} epoch(s);
full validation split. Teacher accuracy {t_acc:.4f}. Mean ± half-range over the seeds run ({sorted({r['seed'] for r in runs})}).

| losses | accuracy | retention | per seed |
| --- | --- | --- | --- |
{chr(10).join(lines)}

logits = KL·T² (T=2) + 0.5·CE; hidden = MSE of embeddings + layer outputs under the uniform map
(student 0,1,2 -> teacher 1,3,5); attention = MSE of attention maps, same map; crd = contrastive
representation distillation on the pooler outputs (weight 0.2, 1024 memory-bank negatives).
"""
    write_results(f"{args.results}_ablation", data, md)
    print(md)


def speed_part(args) -> None:
    """Throughput of the teacher and the students of ``--part main``, timed in alternation.

    The evaluations in ``main`` time each model minutes apart; on a shared CPU the load changes
    in between, so those ratios mix load with speed. Here all models run the same batch (a seeded
    sample of ``--batch`` validation sentences) round by round (``benchmarks/speed.py::time_models``).
    """
    import json

    from common import RESULTS
    from speed import time_models

    from hfcompress.evaluation.efficiency import set_threads
    from hfcompress.tasks import get_task

    main = json.loads((RESULTS / f"{args.results}.json").read_text())
    set_threads(args.threads)
    teacher = main["teacher"]
    models = {"teacher": (args.teacher, teacher["metrics"]["accuracy"], teacher["efficiency"]["parameters"])}
    models.update({r["name"]: (r["config"]["output_dir"], r["accuracy"], r["parameters"]) for r in main["runs"]})
    timing, _ = time_models(get_task("sst2"), {name: m[0] for name, m in models.items()}, [args.batch],
                            rounds=args.repeats)
    timing = {name: t[f"batch_{args.batch}"] for name, t in timing.items()}
    t_acc = models["teacher"][1]
    rows, out = [], {}
    for name, (path, acc, params) in models.items():
        t = timing[name]
        out[name] = {"path": path, "accuracy": acc, "retention": acc / t_acc, **t, "parameters": params}
        rows.append(f"| {name} | {acc:.4f} | {acc / t_acc:.1%} | {t['latency_ms_median']:.1f} | "
                    f"{t['throughput_examples_per_s']:.1f} | **{t['speedup']:.2f}x** | {params / 1e6:.1f} M |")
    md = f"""# SST-2 students vs teacher: accuracy retention and throughput, timed in alternation

Command: `python benchmarks/distill_sst2.py {' '.join(sys.argv[1:])}` (after `--part main`)

Accuracy: full SST-2 validation split, from `{args.results}.json` (the `--part main` run). Latency: the
same batch of {args.batch} validation sentences (a seeded sample) per model, {args.repeats} rounds timed in
alternation (teacher, students, teacher, ...) with `benchmarks/speed.py::time_models`
(`hfcompress.evaluation.efficiency.interleaved_latency`), {args.threads} threads, one process.

| model | accuracy | retention | latency median (ms, batch {args.batch}) | throughput (ex/s) | speed-up vs teacher | parameters |
| --- | --- | --- | --- | --- | --- | --- |
{chr(10).join(rows)}
"""
    write_results(f"{args.results}_speed", {"benchmark": "distill_sst2_speed", "models": out, "settings": vars(args)}, md)
    print(md)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", choices=["main", "ablation", "speed"], default="main")
    ap.add_argument("--train-samples", type=int, default=4000)
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2, help="threads for training and evaluation")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--teacher", default=str(TEACHER))
    ap.add_argument("--results", default="distill_sst2", help="results file name (prefix)")
    args = ap.parse_args()
    require_mirror()
    torch.manual_seed(0)
    {"main": main_part, "ablation": ablation_part, "speed": speed_part}[args.part](args)


if __name__ == "__main__":
    main()

"""Knowledge distillation on CIFAR-10: the ResNet-18-w32 teacher -> a ResNet-10-w16 student.

    python benchmarks/distill_cifar10.py [--train-samples 5000] [--epochs 1]   # -> results/distill_cifar10.{json,md}

The same student architecture (``scratch:resnet10-w16``, trained from scratch, same seeded
subset of the training split, pad-crop + flip augmentation) is trained three ways: without KD
(hard-label CE only: the teacher never runs), with logit KD (0.9·KL·T² at T=4 + 0.1·CE), and
with logits + CRD on the pooled features. Everything is evaluated on a seeded sample of the
test split through ``hfcompress.evaluation``; throughput ratios are against the teacher
measured in the same run. Sized for 2 shared CPU cores. Needs benchmarks/work/teacher-cifar10
(``python benchmarks/teacher.py --task cifar10``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common import WORK, require_mirror, run_evaluated, write_results

from hfcompress.config import EvalConfig
from hfcompress.distill import DistillConfig
from hfcompress.evaluation import evaluate_model

TEACHER = WORK / "teacher-cifar10"
VARIANTS = {
    "no KD (CE only)": [{"name": "ce", "weight": 1.0}],
    "KD logits": [{"name": "logits", "weight": 0.9}, {"name": "ce", "weight": 0.1}],
    "KD logits + CRD": [{"name": "logits", "weight": 0.9}, {"name": "ce", "weight": 0.1},
                        {"name": "crd", "weight": 0.8, "negatives": 1024}],
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train-samples", type=int, default=5000)
    ap.add_argument("--eval-samples", type=int, default=2000)
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--student", default="scratch:resnet10-w16")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS))
    ap.add_argument("--teacher", default=str(TEACHER))
    ap.add_argument("--name", default="distill_cifar10", help="results file name")
    args = ap.parse_args()
    require_mirror()
    teacher = evaluate_model(EvalConfig(task="cifar10", model=args.teacher, limit=args.eval_samples, batch_size=64,
                                        threads=args.threads))
    runs = []
    for name in args.variants:
        slug = name.split(" (")[0].lower().replace(" + ", "-").replace(" ", "-")
        cfg = DistillConfig.from_dict(dict(
            task="cifar10", teacher=args.teacher, output_dir=str(WORK / "distill" / f"{args.name}-{slug}"),
            student={"kind": "model", "model": args.student}, losses=VARIANTS[name], temperature=4.0,
            epochs=args.epochs, learning_rate=2e-3, batch_size=128, weight_decay=0.05, eval_batch_size=64,
            max_train_samples=args.train_samples, max_eval_samples=args.eval_samples, seed=42, save_steps=10_000,
            logging_steps=10, threads=args.threads, eval_teacher=False))
        out, evals = run_evaluated("distill", cfg, overwrite=True)
        ev = evals["student"]
        runs.append({"name": name, "config": cfg.to_dict(), "train_seconds": out["train_seconds"],
                     "accuracy": ev["metrics"]["accuracy"], "throughput": ev["efficiency"]["throughput_examples_per_s"],
                     "parameters": ev["efficiency"]["parameters"], "evaluation": ev})
    t_acc, t_tp = teacher["metrics"]["accuracy"], teacher["efficiency"]["throughput_examples_per_s"]
    rows = [f"| teacher ({Path(args.teacher).name}) | {t_acc:.4f} | 100% | {t_tp:.0f} | 1.00x | {teacher['efficiency']['parameters'] / 1e6:.2f} M | |"]
    rows += [f"| {args.student} {r['name']} | {r['accuracy']:.4f} | {r['accuracy'] / t_acc:.1%} | {r['throughput']:.0f} | "
             f"{r['throughput'] / t_tp:.2f}x | {r['parameters'] / 1e6:.2f} M | {r['train_seconds'] / 60:.1f} min |" for r in runs]
    md = f"""# Knowledge distillation on CIFAR-10 (ResNet teacher -> smaller ResNet)

Command: `python benchmarks/distill_cifar10.py {' '.join(sys.argv[1:])}`

Students trained from scratch on {args.train_samples} seeded CIFAR-10 training images for {args.epochs} epoch(s)
(batch 128, lr 2e-3, pad-crop + flip); all models evaluated on the same {args.eval_samples} seeded test images,
throughput at batch 64 on {args.threads} threads in this one run ({teacher['environment']['cpu']}).
A short schedule sized for 2 shared CPU cores: absolute accuracies are low, the comparison is the point.

| model | accuracy | retention | throughput (img/s) | speed-up | parameters | training time |
| --- | --- | --- | --- | --- | --- | --- |
{chr(10).join(rows)}
"""
    write_results(args.name, {"benchmark": "distill_cifar10", "teacher": teacher, "runs": runs,
                                      "settings": vars(args)}, md)
    print(md)


if __name__ == "__main__":
    main()

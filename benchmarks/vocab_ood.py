"""Vocabulary pruning against shifted data: what keeping more than the train split's tokens buys.

    python benchmarks/vocab_ood.py [--teacher FOLDER] [--smoke] [--out FOLDER]

``prune --method vocab`` keeps the tokens of the task's train split; words a shifted input uses that the
train split lacks then fall back to single characters. This prunes the SST-2 teacher
(``benchmarks/teacher.py --task sst2``) four ways — the train split only; plus the tokenizer's first
10,000 ids (``vocab_keep_first``); plus unlabelled in-domain text the user gives (``vocab_texts``: here
2000 Rotten Tomatoes train reviews written to a text file, none of them evaluated); plus both — and
evaluates each, and the unpruned teacher, on the SST-2 validation split and on 1000 seeded Rotten Tomatoes
train reviews (the shifted set of ``perf_sst2.py``; disjoint from the text given). No training: the
pruned models differ only in their vocabulary. Resumable (finished models and evaluations are kept).
Writes benchmarks/results/vocab_ood.{json,md}.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import RESULTS, SST2_SHIFT, WORK, evaluate_cached, require_mirror

from hfcompress.config import EvalConfig

SHIFT = SST2_SHIFT  # evaluated, as in perf_sst2.py
IN_DOMAIN_LINES = 2000  # other Rotten Tomatoes train reviews, given as unlabelled text (the mirror has train only)
KEEP_FIRST = 10000
VARIANTS = {  # name -> (label, extra PruneConfig fields; "TEXT" is replaced by the in-domain text file)
    "train": ("train split only (the default)", {}),
    "first": (f"+ first {KEEP_FIRST:,} ids", {"vocab_keep_first": KEEP_FIRST}),
    "text": ("+ in-domain unlabelled text", {"vocab_texts": "TEXT"}),
    "both": ("+ both", {"vocab_keep_first": KEEP_FIRST, "vocab_texts": "TEXT"}),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--teacher", default=str(WORK / "teacher-sst2"))
    ap.add_argument("--smoke", action="store_true", help="64 examples per evaluation (checks the script)")
    ap.add_argument("--out", help="results and models under this folder (default: benchmarks/results, "
                                  "benchmarks/work/vocab-ood)")
    args = ap.parse_args()
    require_mirror()
    from hfcompress.api import run_method
    from hfcompress.prune import PruneConfig
    from hfcompress.tasks import get_task

    teacher = Path(args.teacher)
    if not (teacher / "config.json").is_file():
        raise SystemExit(f"--teacher: no model at {teacher} (run: python benchmarks/teacher.py --task sst2)")
    results = Path(args.out) / "results" if args.out else RESULTS
    work = Path(args.out) / "work" if args.out else WORK / "vocab-ood"
    work.mkdir(parents=True, exist_ok=True)
    limit = 64 if args.smoke else None

    shift = get_task(SHIFT[0])
    column = shift.text_columns[0]
    text_file = work / "in-domain.txt"
    if not text_file.is_file():
        # the first reviews of the split that the evaluated seeded sample does not contain
        evaluated = set(shift.load(SHIFT[1], limit=limit or SHIFT[2])[column])
        given = [t.replace("\n", " ") for t in shift.load(SHIFT[1])[column] if t not in evaluated]
        text_file.write_text("\n".join(given[:64 if args.smoke else IN_DOMAIN_LINES]) + "\n", encoding="utf-8")
    n_text = len([line for line in text_file.read_text(encoding="utf-8").splitlines() if line.strip()])

    models = {"teacher": ("teacher, unpruned", teacher)}
    stages = {}
    for name, (label, extra) in VARIANTS.items():
        out = work / name
        extra = {k: ([str(text_file)] if v == "TEXT" else v) for k, v in extra.items()}
        if not (out / "config.json").is_file():
            run_method("prune", PruneConfig(task="sst2", model=str(teacher), output_dir=str(out), method="vocab",
                                            eval_limit=0, **extra), overwrite=True)
        stages[name] = json.loads((out / "config.json").read_text())["hfcompress"]["stages"][-1]["result"]
        models[name] = (label, out)

    data = {"teacher": str(teacher), "in_domain_text": {"source": f"{SHIFT[0]} {SHIFT[1]}, not evaluated",
                                                         "lines": n_text},
            "shifted_set": {"task": SHIFT[0], "split": SHIFT[1], "limit": limit or SHIFT[2]}, "models": {}}
    for name, (label, path) in models.items():
        clean = evaluate_cached(work / f"{name}.sst2.eval.json",
                                EvalConfig(task="sst2", model=str(path), limit=limit, batch_size=32, repeats=1), label)
        ood = evaluate_cached(work / f"{name}.{SHIFT[0]}.eval.json",
                              EvalConfig(task=SHIFT[0], model=str(path), split=SHIFT[1], limit=limit or SHIFT[2],
                                         batch_size=32, repeats=1), label)
        config = json.loads((Path(path) / "config.json").read_text())
        data["models"][name] = {"label": label, "vocab_size": config["vocab_size"],
                                "hidden_size": config["hidden_size"],
                                "accuracy": clean["metrics"]["accuracy"], "ood_accuracy": ood["metrics"]["accuracy"],
                                "size_on_disk_bytes": clean["efficiency"]["size_on_disk_bytes"],
                                "parameters": clean["efficiency"]["parameters"], "stage": stages.get(name)}
    t = data["models"]["teacher"]
    rows = []
    for name, m in data["models"].items():
        m["change_points"] = 100 * (m["accuracy"] - t["accuracy"])
        m["ood_change_points"] = 100 * (m["ood_accuracy"] - t["ood_accuracy"])
        m["ood_share_of_clean"] = m["ood_accuracy"] / m["accuracy"]
        # what the table costs once INT8 (one byte per weight): the size the shipped model pays
        m["embedding_int8_mib"] = m["vocab_size"] * m["hidden_size"] / 2**20
        rows.append(f"| {m['label']} | {m['vocab_size']:,} | {m['embedding_int8_mib']:.2f} | "
                    f"{m['size_on_disk_bytes'] / 2**20:.1f} | {m['accuracy']:.4f} | {m['change_points']:+.2f} | "
                    f"{m['ood_accuracy']:.4f} | {m['ood_change_points']:+.2f} | {m['ood_share_of_clean']:.1%} |")
    n_clean = "64 seeded" if args.smoke else "all 872"
    md = "\n".join([
        "# Vocabulary pruning against shifted data", "",
        "Command: `python benchmarks/vocab_ood.py`", "",
        f"The SST-2 teacher (`{teacher.name}`) pruned with `prune --method vocab` four ways, no training; accuracy "
        f"on {n_clean} SST-2 validation sentences and, out of distribution, on {limit or SHIFT[2]} seeded Rotten "
        f"Tomatoes train reviews. The in-domain unlabelled text (`vocab_texts`) is {n_text} other Rotten Tomatoes "
        "train reviews as a plain text file: the same domain as the shifted set, none of its reviews. "
        "*INT8 table*: the word-embedding table at one byte per weight, what it costs in the shipped INT8 model.", "",
        "| vocabulary | tokens | INT8 table (MiB) | fp32 size (MiB) | SST-2 accuracy | change (points) | "
        "shifted accuracy | change (points) | shifted share of clean |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |", *rows, ""])
    results.mkdir(parents=True, exist_ok=True)
    (results / "vocab_ood.json").write_text(json.dumps(data, indent=2) + "\n")
    (results / "vocab_ood.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()

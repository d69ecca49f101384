"""Vocabulary pruning of a SentencePiece-style (Unigram) tokenizer, measured on real text.

    python benchmarks/vocab_unigram.py [--corpus rotten_tomatoes|mirror] [--vocab-size 8000] [--hidden 256]

No real XLM-R is available offline, so this builds a *tiny* XLM-R-shaped classifier (2 layers, random
weights) around a Unigram tokenizer trained with the ``tokenizers`` library on the mirror's Rotten
Tomatoes text (``--corpus mirror``: on all the mirror's English text but SST-2's, a broader vocabulary
as a general-purpose model has; SST-2 itself was built from Rotten Tomatoes reviews), then prunes it
with ``hfcompress.compress(..., {"prune": {"method": "vocab"}})`` to the vocabulary the SST-2 train
split uses, and measures: vocabulary and embedding parameters before/after, the saved weights, and on
SST-2 validation how many sentences tokenize exactly as before, the unk rate, and the largest logit
difference (float noise at most where the tokenization is unchanged). The encoder is tiny, so the share
of parameters saved is the embedding share of *this* model, not of XLM-R-base. Minutes of CPU.
Writes benchmarks/results/vocab_unigram[-mirror].json, then .md from it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import WORK, require_mirror, write_results  # noqa: E402

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]


def train_tokenizer(texts: list[str], vocab_size: int):
    """A Unigram tokenizer (Metaspace pieces, XLM-R's special tokens) in XLM-R's tokenizer class."""
    import json

    import transformers as T
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.train_from_iterator(texts, trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=SPECIALS,
                                                           unk_token="<unk>", show_progress=False))
    return T.XLMRobertaTokenizer(vocab=[tuple(v) for v in json.loads(tok.to_str())["model"]["vocab"]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=["rotten_tomatoes", "mirror"], default="rotten_tomatoes")
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--hidden", type=int, default=256)
    args = parser.parse_args()
    mirror = Path(require_mirror())
    import pyarrow.parquet as pq
    import torch
    import transformers as T

    import hfcompress

    texts = pq.read_table(mirror / "cornell-movie-review-data/rotten_tomatoes/train-00000-of-00001.parquet",
                          columns=["text"]).column("text").to_pylist()
    corpus = "Rotten Tomatoes train"
    if args.corpus == "mirror":  # every text column of every GLUE file in the mirror except SST-2's
        for path in sorted((mirror / "nyu-mll/glue").glob("*/*.parquet")):
            if path.parent.name != "sst2":
                table = pq.read_table(path)
                for column in table.column_names:
                    if column not in ("label", "idx"):
                        texts += table.column(column).to_pylist()
        corpus = "the mirror's Rotten Tomatoes + GLUE text (SST-2 excluded)"
    tok = train_tokenizer(texts, args.vocab_size)
    torch.manual_seed(0)
    config = T.XLMRobertaConfig(vocab_size=len(tok), hidden_size=args.hidden, num_hidden_layers=2,
                                num_attention_heads=4, intermediate_size=4 * args.hidden, max_position_embeddings=130,
                                pad_token_id=tok.pad_token_id, bos_token_id=tok.cls_token_id,
                                eos_token_id=tok.sep_token_id, num_labels=2)
    model = T.XLMRobertaForSequenceClassification(config).eval()
    name = "vocab_unigram" + ("" if args.corpus == "rotten_tomatoes" else f"-{args.corpus}")
    work = WORK / name
    shutil.rmtree(work, ignore_errors=True)
    model.save_pretrained(work / "source")
    tok.save_pretrained(work / "source")
    pruned = hfcompress.compress(str(work / "source"), {"prune": {"method": "vocab", "eval_limit": 0}}, task="sst2",
                                 output_dir=work / "pruned")
    stage = pruned.record.stages[-1].result
    task = hfcompress.get_task("sst2")
    original = hfcompress.load(work / "source", task=task)
    again = hfcompress.load(work / "pruned", task=task)
    sentences = list(task.load("validation")["sentence"])
    exact, max_diff_exact, max_diff_all, unk = 0, 0.0, 0.0, {"before": [0, 0], "after": [0, 0]}
    with torch.inference_mode():
        for i in range(0, len(sentences), 64):
            chunk = sentences[i:i + 64]
            a_enc = original.preprocessor(chunk, padding=True, return_tensors="pt")
            b_enc = again.preprocessor(chunk, padding=True, return_tensors="pt")
            a, b = original.model(**a_enc).logits, again.model(**b_enc).logits
            for j, s in enumerate(chunk):
                same = (original.preprocessor.tokenize(s) == again.preprocessor.tokenize(s))
                diff = (a[j] - b[j]).abs().max().item()
                exact += same
                max_diff_all = max(max_diff_all, diff)
                if same:
                    max_diff_exact = max(max_diff_exact, diff)
            for key, loaded, enc in (("before", original, a_enc), ("after", again, b_enc)):
                ids = enc["input_ids"][enc["attention_mask"].bool()]
                unk[key][0] += int((ids == loaded.preprocessor.unk_token_id).sum())
                unk[key][1] += ids.numel()

    def size(folder):
        return sum(p.stat().st_size for p in Path(folder).glob("*.safetensors"))

    params = {k: sum(p.numel() for p in m.model.parameters()) for k, m in (("before", original), ("after", again))}
    emb = {k: m.model.get_input_embeddings().weight.numel() for k, m in (("before", original), ("after", again))}
    data = {
        "model": f"tiny XLM-R-shaped classifier: 2 layers, hidden {args.hidden}, random weights",
        "tokenizer": f"Unigram trained on {corpus} ({len(texts)} texts), asked for "
                     f"{args.vocab_size} pieces",
        "pruned_to": f"SST-2 train ({stage['text_examples']} sentences) + specials + single characters",
        "vocab_before": stage["vocab_size_before"], "vocab_after": stage["vocab_size"],
        "embedding_params_before": emb["before"], "embedding_params_after": emb["after"],
        "params_before": params["before"], "params_after": params["after"],
        "safetensors_bytes_before": size(work / "source"), "safetensors_bytes_after": size(work / "pruned"),
        "validation_sentences": len(sentences), "validation_tokenized_exactly": exact,
        "max_logit_diff_exact_sentences": max_diff_exact, "max_logit_diff_all": max_diff_all,
        "unk_rate_before": unk["before"][0] / unk["before"][1], "unk_rate_after": unk["after"][0] / unk["after"][1],
    }
    md = ["# Vocabulary pruning of a Unigram (SentencePiece-style) tokenizer", "",
          f"{data['model']}; {data['tokenizer']}; pruned to {data['pruned_to']} with "
          "`hfcompress.compress(..., {\"prune\": {\"method\": \"vocab\"}})`. Command: "
          f"`python benchmarks/vocab_unigram.py --corpus {args.corpus} --vocab-size {args.vocab_size} "
          f"--hidden {args.hidden}`.", "",
          "| | before | after |", "|---|---|---|",
          f"| vocabulary | {data['vocab_before']:,} | {data['vocab_after']:,} |",
          f"| embedding parameters | {data['embedding_params_before']:,} | {data['embedding_params_after']:,} |",
          f"| all parameters | {data['params_before']:,} | {data['params_after']:,} |",
          f"| safetensors bytes | {data['safetensors_bytes_before']:,} | {data['safetensors_bytes_after']:,} |",
          f"| SST-2 validation unk rate (tokens) | {data['unk_rate_before']:.4%} | {data['unk_rate_after']:.4%} |",
          "",
          f"SST-2 validation: {exact} of {len(sentences)} sentences tokenize exactly as before; on those the "
          f"largest logit difference is {max_diff_exact:.3g} (on all: {max_diff_all:.3g}; the model is random, "
          "so accuracy is not measured here).", ""]
    write_results(name, data, "\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()

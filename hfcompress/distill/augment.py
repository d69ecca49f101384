"""TinyBERT's task-specific data augmentation for text distillation (Jiao et al. 2020, section 3.3).

Each training example gets ``copies`` extra versions in which every whole word is, with probability
``replace_prob``, replaced by one of its ``neighbours`` nearest words in the teacher's input-embedding
space (cosine). The teacher labels every copy (online, or once up front with ``offline_teacher``: the
copies are fixed, drawn once from ``seed``), so a small task's student sees many more teacher outputs
than the task has rows: what lets a freshly initialised narrow student generalise instead of
memorising a few thousand rows.

Why by hand: no maintained library does this on tokenized ids. ``nlpaug`` and ``textattack`` work on
raw strings with their own word vectors or masked LMs (TinyBERT's paper uses BERT's MLM for one-piece
words and GloVe for the others), and re-tokenizing strings would change lengths and break sentence-pair
segments. Here a whole word that is one token of the teacher's vocabulary is swapped for another
whole-word token id: lengths, attention masks and token types stay as they are, and the neighbours come
from the teacher itself, with no extra download.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from hfcompress.distill.config import TextAugmentConfig
from hfcompress.distill.losses.logits import UNLABELLED
from hfcompress.errors import ConfigError


def _word_scheme(tokens: list[str]) -> str:
    """How the tokenizer marks words: "##" (WordPiece continuation pieces) or a word-start marker
    (SentencePiece "\u2581", byte-level BPE "\u0120"): whichever most tokens carry; "" if none does."""
    counts = {m: sum(t.startswith(m) for t in tokens) for m in ("##", "\u2581", "\u0120")}
    best = max(counts, key=counts.get)
    return best if counts[best] >= 10 else ""


class WordReplacer:
    """Whole-word token ids of a tokenizer, their nearest neighbours in an embedding table, and the
    replacement of words in tokenized rows."""

    def __init__(self, tokenizer, embeddings: torch.Tensor, neighbours: int, where: str = "distill.text_augmentation"):
        tokens = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        self.scheme = _word_scheme(tokens)
        if not self.scheme:
            raise ConfigError(f"{where}: the teacher's tokenizer ({type(tokenizer).__name__}) marks no word "
                              "boundaries this knows (WordPiece '##', SentencePiece or byte-level BPE markers)")
        special = set(tokenizer.all_special_ids)
        n = min(len(tokens), embeddings.shape[0])
        self.special = np.array([i in special for i in range(n)])
        if self.scheme == "##":
            self.starts = np.array([not t.startswith("##") for t in tokens[:n]])
            words = list(tokens[:n])
        else:
            self.starts = np.array([t.startswith(self.scheme) for t in tokens[:n]])
            words = [t[len(self.scheme):] if t.startswith(self.scheme) else "" for t in tokens[:n]]
        # replaceable and usable as a replacement: alphabetic words of two letters or more, never a special
        # token or an unused slot ([unused12] is not alphabetic)
        self.word = np.array([i not in special and s and len(w) > 1 and w.isalpha()
                              for i, (w, s) in enumerate(zip(words, self.starts))])
        if self.word.sum() <= neighbours:
            raise ConfigError(f"{where}.neighbours: {neighbours} neighbours, but the vocabulary has only "
                              f"{int(self.word.sum())} whole words")
        self.size = n
        self.k = neighbours
        self.embeddings = torch.nn.functional.normalize(embeddings[:n].detach().float().cpu(), dim=-1)
        self.table: dict[int, np.ndarray] = {}

    def build_table(self, ids: np.ndarray, chunk: int = 1024) -> None:
        """Nearest whole-word neighbours (self excluded) of every replaceable id in ``ids``."""
        wanted = [int(i) for i in np.unique(ids) if 0 <= i < self.size and self.word[i] and int(i) not in self.table]
        cand = np.flatnonzero(self.word)
        cand_emb = self.embeddings[torch.from_numpy(cand)]
        for s in range(0, len(wanted), chunk):
            rows = wanted[s:s + chunk]
            sims = self.embeddings[torch.tensor(rows)] @ cand_emb.T
            top = sims.topk(self.k + 1, dim=-1).indices.numpy()
            for r, idx in zip(rows, top):
                near = cand[idx]
                self.table[r] = near[near != r][:self.k]

    def replaceable(self, ids: np.ndarray) -> np.ndarray:
        """Positions of ``ids`` (one row) holding a whole word that is one token: a word token whose next
        token starts a new word (or is special, or the row ends)."""
        ids = np.asarray(ids)
        inside = (ids >= 0) & (ids < self.size)
        safe = np.where(inside, ids, 0)
        boundary = ~inside | self.starts[safe] | self.special[safe]
        return inside & self.word[safe] & np.append(boundary[1:], True)

    def replace(self, ids: list[int], rng: np.random.Generator, prob: float) -> tuple[list[int], int, int]:
        """``ids`` with each replaceable word swapped, with probability ``prob``, for one of its neighbours;
        also how many words were replaceable and how many were swapped."""
        out = np.array(ids)
        positions = np.flatnonzero(self.replaceable(out))
        swapped = 0
        for pos in positions:
            if rng.random() < prob:
                near = self.table.get(int(out[pos]))
                if near is not None and len(near):
                    out[pos] = near[rng.integers(len(near))]
                    swapped += 1
        return out.tolist(), len(positions), swapped


def augment_dataset(data, tokenizer, embeddings: torch.Tensor, cfg: TextAugmentConfig, seed: int = 0,
                    where: str = "distill.text_augmentation"):
    """``data`` (a tokenized ``datasets.Dataset`` with ``input_ids``) followed by ``cfg.copies`` word-replaced
    copies of it, drawn from ``seed``; returns ``(dataset, stats)``."""
    from datasets import concatenate_datasets

    if "input_ids" not in data.column_names:
        raise ConfigError(f"{where}: the training rows have no input_ids (a text task is needed)")
    replacer = WordReplacer(tokenizer, embeddings, cfg.neighbours, where)
    replacer.build_table(np.concatenate([np.asarray(r) for r in data["input_ids"]]) if len(data) else np.array([]))
    unlabel = None  # what a copy's label becomes (None: it keeps its source's)
    if not cfg.label_copies and "labels" in data.column_names:
        from datasets import ClassLabel, Value

        if isinstance(data.features["labels"], ClassLabel):  # a ClassLabel column refuses -100
            data = data.cast_column("labels", Value("int64"))
        dtype = str(getattr(data.features["labels"], "dtype", ""))
        unlabel = float("nan") if dtype.startswith("float") else UNLABELLED
    counts = {"words": 0, "replaced": 0}

    def copy_of(k: int):
        def fn(batch, indices):
            new = []
            for row, i in zip(batch["input_ids"], indices):
                changed, words, swapped = replacer.replace(row, np.random.default_rng([seed, k, i]), cfg.replace_prob)
                counts["words"] += words
                counts["replaced"] += swapped
                new.append(changed)
            return {"input_ids": new, **({"labels": [unlabel] * len(new)} if unlabel is not None else {})}
        return fn

    copies = [data.map(copy_of(k), batched=True, with_indices=True, load_from_cache_file=False,
                       desc=f"augmenting (copy {k + 1} of {cfg.copies})") for k in range(cfg.copies)]
    stats = {"copies": cfg.copies, "rows": len(data), "rows_after": len(data) * (cfg.copies + 1),
             "replaceable_words": counts["words"], "replaced_words": counts["replaced"],
             "replaced_share": counts["replaced"] / max(counts["words"], 1),
             "neighbour_table_words": len(replacer.table), "copies_labelled": cfg.label_copies}
    return concatenate_datasets([data] + copies), stats


def nearest_words(tokenizer, embeddings: torch.Tensor, word: str, k: int = 5) -> list[str]:
    """The ``k`` nearest whole words of ``word`` (one token) in ``embeddings``: for inspection and tests."""
    replacer = WordReplacer(tokenizer, embeddings, k)
    ids = tokenizer.convert_tokens_to_ids([word])
    replacer.build_table(np.array(ids))
    near: Optional[np.ndarray] = replacer.table.get(ids[0])
    return [] if near is None else tokenizer.convert_ids_to_tokens(near.tolist())

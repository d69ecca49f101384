"""Vocabulary pruning: keep only the token embeddings a task's data uses (BERT-family, WordPiece).

A fine-tuned classifier for one task never sees most of its 30k-token vocabulary, yet the word
embeddings are half of a MiniLM's parameters. This removes the rows of ``word_embeddings`` for
tokens that the task's training text never produces (special tokens, and by default every
single-character piece, are always kept), and rewrites the tokenizer to the same reduced
vocabulary, so that the saved folder is an ordinary ``from_pretrained`` model + tokenizer with a
smaller ``config.vocab_size``; no rebuild step is needed to reload it.

Why the tokenizer stays exact on the task's data: WordPiece segments a word greedily, longest
vocabulary prefix first. Every piece the original tokenizer produced for the training text is kept,
and no longer prefix can appear in a subset of the vocabulary, so those words segment exactly as
before. Words that needed a removed piece fall back to shorter pieces (the single characters are
kept for that), instead of becoming ``[UNK]``; their accuracy is measured, not assumed.

Hand-written: TextPruner (airaria/TextPruner) does vocabulary pruning for HF models, but it is
unmaintained and targets old transformers releases; the operation is a row slice plus a vocabulary
rewrite of ``tokenizer.json``, done here on the tokenizers library's own JSON format.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Iterable

import torch
from torch import nn

from hfcompress.prune.config import PruneError

SPECIAL_ID_FIELDS = ("pad_token_id", "bos_token_id", "eos_token_id", "sep_token_id", "cls_token_id")


def _tokenizer_json(tokenizer) -> dict[str, Any]:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise PruneError(f"prune.method: 'vocab' needs a fast (tokenizers) tokenizer; got {type(tokenizer).__name__}")
    data = json.loads(backend.to_str())
    if data.get("model", {}).get("type") != "WordPiece":
        raise PruneError(f"prune.method: 'vocab' supports WordPiece tokenizers (BERT family); this one is "
                         f"{data.get('model', {}).get('type')!r}")
    return data


def tokens_to_keep(tokenizer, used_ids: Iterable[int], keep_chars: bool = True) -> list[int]:
    """Sorted old ids to keep: the used ids, every special/added token, and (optionally) every
    single-character piece (``a``, ``##a``) so unseen words still segment instead of becoming [UNK]."""
    vocab = _tokenizer_json(tokenizer)["model"]["vocab"]
    keep = {int(i) for i in used_ids}
    keep.update(int(i) for i in tokenizer.all_special_ids)
    keep.update(int(i) for i in getattr(tokenizer, "added_tokens_decoder", {}))
    if keep_chars:
        keep.update(i for tok, i in vocab.items() if len(tok) == 1 or (tok.startswith("##") and len(tok) == 3))
    bad = [i for i in keep if not 0 <= i < len(vocab)]
    if bad:
        raise PruneError(f"prune.method: 'vocab': token ids {bad[:5]} are outside the tokenizer's vocabulary")
    return sorted(keep)


def _remap_ids(node: Any, new_id: dict[str, int]) -> None:
    """Post-processor templates store special tokens as {"ids": [...], "tokens": [...]}: remap in place."""
    if isinstance(node, dict):
        if isinstance(node.get("ids"), list) and isinstance(node.get("tokens"), list):
            node["ids"] = [new_id[t] for t in node["tokens"]]
        for value in node.values():
            _remap_ids(value, new_id)
    elif isinstance(node, list):
        for value in node:
            _remap_ids(value, new_id)


def prune_tokenizer(tokenizer, keep: list[int]):
    """A tokenizer whose vocabulary is the kept tokens, renumbered in their old order.

    Goes through ``save_pretrained`` and ``from_pretrained`` so the result is the same tokenizer
    class, with every file (tokenizer.json, vocab.txt, tokenizer_config.json) consistent."""
    from transformers import AutoTokenizer

    data = _tokenizer_json(tokenizer)
    old = data["model"]["vocab"]
    by_id = {i: tok for tok, i in old.items()}
    kept_tokens = [by_id[i] for i in keep]
    new_id = {tok: n for n, tok in enumerate(kept_tokens)}
    data["model"]["vocab"] = new_id
    for added in data.get("added_tokens", []):
        added["id"] = new_id[added["content"]]
    _remap_ids(data.get("post_processor"), new_id)
    if data.get("padding") and "pad_token" in data["padding"]:
        data["padding"]["pad_id"] = new_id[data["padding"]["pad_token"]]
    with tempfile.TemporaryDirectory(prefix="hfcompress-vocab-") as tmp:
        folder = Path(tmp)
        tokenizer.save_pretrained(folder)
        (folder / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False))
        if (folder / "vocab.txt").is_file():
            (folder / "vocab.txt").write_text("".join(t + "\n" for t in kept_tokens), encoding="utf-8")
        cfg_path = folder / "tokenizer_config.json"
        if cfg_path.is_file():
            cfg = json.loads(cfg_path.read_text())
            if isinstance(cfg.get("added_tokens_decoder"), dict):
                cfg["added_tokens_decoder"] = {str(new_id[v["content"]]): v
                                               for v in cfg["added_tokens_decoder"].values()}
            cfg_path.write_text(json.dumps(cfg, ensure_ascii=False, indent=2))
        pruned = AutoTokenizer.from_pretrained(folder)
    if len(pruned) != len(keep):
        raise PruneError(f"prune.method: 'vocab': rewritten tokenizer has {len(pruned)} tokens, expected {len(keep)}")
    return pruned


def prune_embeddings(model: nn.Module, keep: list[int]) -> None:
    """Keep rows ``keep`` of the input embeddings (in that order) and update the config."""
    if model.get_output_embeddings() is not None:
        raise PruneError("prune.method: 'vocab' prunes input embeddings only; this model has a language-model "
                         "head tied to them")
    old = model.get_input_embeddings()
    if old.num_embeddings != model.config.vocab_size:
        raise PruneError(f"prune.method: 'vocab': embedding rows ({old.num_embeddings}) differ from "
                         f"config.vocab_size ({model.config.vocab_size})")
    index = torch.tensor(keep, dtype=torch.long, device=old.weight.device)
    position = {old_id: n for n, old_id in enumerate(keep)}
    padding_idx = position.get(old.padding_idx) if old.padding_idx is not None else None
    new = nn.Embedding(len(keep), old.embedding_dim, padding_idx=padding_idx, device=old.weight.device,
                       dtype=old.weight.dtype)
    with torch.no_grad():
        new.weight.copy_(old.weight.index_select(0, index))
    new.train(old.training)
    model.set_input_embeddings(new)
    model.config.vocab_size = len(keep)
    for field in SPECIAL_ID_FIELDS:
        value = getattr(model.config, field, None)
        if isinstance(value, int):
            setattr(model.config, field, position.get(value, value if value < len(keep) else None))


def used_token_ids(batches_or_dataset: Iterable[dict]) -> set[int]:
    """Every token id in a tokenized dataset (rows with ``input_ids``)."""
    used: set[int] = set()
    for row in batches_or_dataset:
        ids = row["input_ids"]
        used.update(ids.flatten().tolist() if isinstance(ids, torch.Tensor) else ids)
    return used


def prune_vocab(model: nn.Module, tokenizer, used_ids: Iterable[int], keep_chars: bool = True):
    """Prune model embeddings and tokenizer together; return (new tokenizer, stage result)."""
    before = model.get_input_embeddings().num_embeddings
    keep = tokens_to_keep(tokenizer, used_ids, keep_chars)
    new_tokenizer = prune_tokenizer(tokenizer, keep)
    prune_embeddings(model, keep)
    return new_tokenizer, {"vocab_size_before": before, "vocab_size": len(keep), "keep_chars": keep_chars}

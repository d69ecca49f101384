"""Vocabulary pruning: keep only the token embeddings a task's data uses (WordPiece, BPE, Unigram).

A fine-tuned classifier for one task never sees most of its vocabulary, yet the word embeddings are
half of a MiniLM's parameters and most of a multilingual model's (XLM-R-base: 192M of 278M). This
removes the rows of the input embeddings (and of a language-model head, tied or not) for tokens that
the task's training text never produces, and rewrites the tokenizer to the same reduced vocabulary,
so that the saved folder is an ordinary ``from_pretrained`` model + tokenizer with a smaller
``config.vocab_size``; no rebuild step is needed to reload it.

The tokenizer is rewritten on the ``tokenizers`` library's own JSON (``tokenizer.json``, read with
``Tokenizer.to_str`` and checked with ``Tokenizer.from_str``), for the three model types fast
tokenizers use:

* **WordPiece** (BERT, ELECTRA, DistilBERT, MPNet): greedy longest-prefix segmentation. Every piece
  the text produced is kept and no longer prefix can appear in a subset, so that text segments
  exactly as before. Single-character pieces (``a``, ``##a``) are kept by default so unseen words
  fall back to shorter pieces instead of ``[UNK]``.
* **BPE** (RoBERTa, GPT-2, ModernBERT; byte-level or not): a kept token keeps the whole merge tree
  that builds it, a merge is kept only when both its parts and its result are kept (in its old
  rank), and the base alphabet is kept (always for byte-level BPE: its 256 byte symbols mean any
  text still tokenizes, never to unk). The merges the original applied to kept-token text are all
  still there and still the lowest-ranked applicable ones, so that text merges exactly as before.
* **Unigram** (SentencePiece models: XLM-R, ALBERT, DeBERTa-v2/v3, T5): kept pieces keep their
  scores, plus the unk piece and byte-fallback pieces. The best segmentation of kept-token text
  still exists with the same score and nothing better was added, so Viterbi picks it again; other
  text degrades to shorter pieces (single characters are kept by default) or to unk.

Everywhere, special and added tokens are kept and every id that names a token is re-mapped:
``added_tokens``, the post-processor's special tokens (TemplateProcessing, RobertaProcessing,
BertProcessing, Sequence), padding's ``pad_id`` and the model config's special ids.

Hand-written: ``tokenizers`` has no "restrict the vocabulary" API, and TextPruner (airaria/TextPruner),
which does this for HF models, is unmaintained and targets old transformers releases; the operation
is a row slice plus this rewrite of the tokenizer's JSON.
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
MODEL_TYPES = ("WordPiece", "BPE", "Unigram")
# files a tokenizer's save_pretrained may write besides tokenizer.json that list the vocabulary;
# rewritten below when they are JSON/text, removed when they are SentencePiece protobufs (which only a
# slow tokenizer reads, and which would then disagree with tokenizer.json)
SENTENCEPIECE_FILES = ("sentencepiece.bpe.model", "spiece.model", "spm.model", "tokenizer.model")


def _tokenizer_json(tokenizer) -> dict[str, Any]:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise PruneError(f"prune.method: 'vocab' needs a fast tokenizer (a tokenizer.json); "
                         f"{type(tokenizer).__name__} is a slow one")
    data = json.loads(backend.to_str())
    kind = data.get("model", {}).get("type")
    if kind not in MODEL_TYPES:
        raise PruneError(f"prune.method: 'vocab' supports WordPiece, BPE and Unigram tokenizers; this one's model "
                         f"is {kind!r}")
    return data


def _merge_pair(merge) -> tuple[str, str]:
    """A BPE merge as (left, right): tokenizers writes ``["a", "b"]`` (>= 0.20) or ``"a b"`` (older)."""
    if isinstance(merge, str):
        left, right = merge.split(" ", 1)
        return left, right
    return merge[0], merge[1]


def _model_tokens(model: dict[str, Any]) -> dict[int, str]:
    """id -> token of the tokenizer model's own vocabulary."""
    if model["type"] == "Unigram":
        return {i: piece for i, (piece, _score) in enumerate(model["vocab"])}
    return {int(i): tok for tok, i in model["vocab"].items()}


def _all_tokens(data: dict[str, Any]) -> dict[int, str]:
    """id -> token over the model's vocabulary and the added tokens (which may lie beyond it)."""
    tokens = _model_tokens(data["model"])
    for added in data.get("added_tokens", []):
        tokens[int(added["id"])] = added["content"]
    return tokens


def _post_processor_tokens(node: Any) -> set[str]:
    """Special tokens a post-processor inserts (TemplateProcessing, Roberta/BertProcessing, Sequence)."""
    found: set[str] = set()
    if isinstance(node, dict):
        if isinstance(node.get("ids"), list) and isinstance(node.get("tokens"), list):
            found.update(node["tokens"])
        for key in ("sep", "cls"):
            if isinstance(node.get(key), list) and len(node[key]) == 2 and isinstance(node[key][0], str):
                found.add(node[key][0])
        for value in node.values():
            found |= _post_processor_tokens(value)
    elif isinstance(node, list):
        for value in node:
            found |= _post_processor_tokens(value)
    return found


def _is_byte_level(data: dict[str, Any]) -> bool:
    return '"ByteLevel"' in json.dumps(data.get("pre_tokenizer"))


def _alphabet(data: dict[str, Any], keep_chars: bool) -> set[str]:
    """Tokens kept so that text the task never showed still tokenizes: byte-fallback pieces always;
    the byte-level alphabet always for byte-level BPE; single characters when ``keep_chars``."""
    model = data["model"]
    vocab = _model_tokens(model).values()
    out = {t for t in vocab if len(t) == 6 and t.startswith("<0x") and t.endswith(">")} if model.get("byte_fallback") \
        else set()
    if model["type"] == "BPE" and _is_byte_level(data):
        from tokenizers import pre_tokenizers

        out.update(t for t in pre_tokenizers.ByteLevel.alphabet() if t in set(vocab))
    if keep_chars:
        prefix = model.get("continuing_subword_prefix") or ""
        suffix = model.get("end_of_word_suffix") or ""
        for t in vocab:
            core = t[len(prefix):] if prefix and t.startswith(prefix) else t
            core = core[:-len(suffix)] if suffix and core.endswith(suffix) else core
            if len(core) == 1:
                out.add(t)
    return out


def _merge_closure(model: dict[str, Any], keep: set[str]) -> set[str]:
    """``keep`` plus, for each BPE token in it, the parts of every merge that produces it (recursively):
    the intermediate tokens the merges pass through, which the final tokenization never shows."""
    produced_by: dict[str, list[tuple[str, str]]] = {}
    for merge in model["merges"]:
        left, right = _merge_pair(merge)
        produced_by.setdefault(left + right, []).append((left, right))
    out, todo = set(keep), list(keep)
    while todo:
        for pair in produced_by.get(todo.pop(), []):
            for part in pair:
                if part not in out:
                    out.add(part)
                    todo.append(part)
    return out


def tokens_to_keep(tokenizer, used_ids: Iterable[int], keep_chars: bool = True) -> list[int]:
    """Sorted old ids to keep: the used ids, every special/added token and the unk token, the
    alphabet that keeps unseen text tokenizable (see :func:`_alphabet`), and for BPE the merge tree
    of each kept token."""
    data = _tokenizer_json(tokenizer)
    model = data["model"]
    tokens = _all_tokens(data)
    keep = {int(i) for i in used_ids}
    bad = [i for i in keep if i not in tokens]
    if bad:
        raise PruneError(f"prune.method: 'vocab': token ids {sorted(bad)[:5]} are outside the tokenizer's vocabulary")
    keep.update(int(i) for i in tokenizer.all_special_ids)
    keep.update(int(i) for i in getattr(tokenizer, "added_tokens_decoder", {}))
    names = {tokens[i] for i in keep} | _post_processor_tokens(data.get("post_processor")) | _alphabet(data, keep_chars)
    if model["type"] == "Unigram" and model.get("unk_id") is not None:
        names.add(tokens[int(model["unk_id"])])
    elif model.get("unk_token"):
        names.add(model["unk_token"])
    if model["type"] == "BPE":
        names = _merge_closure(model, names)
    id_of = {tok: i for i, tok in tokens.items()}
    return sorted({id_of[t] for t in names if t in id_of})


def _remap_ids(node: Any, new_id: dict[str, int]) -> None:
    """Re-map the token ids a post-processor stores, in place: TemplateProcessing's special tokens
    ``{"ids": [...], "tokens": [...]}`` and Roberta/BertProcessing's ``"sep"/"cls": [token, id]``."""
    if isinstance(node, dict):
        if isinstance(node.get("ids"), list) and isinstance(node.get("tokens"), list):
            node["ids"] = [new_id[t] for t in node["tokens"]]
        for key in ("sep", "cls"):
            if isinstance(node.get(key), list) and len(node[key]) == 2 and isinstance(node[key][0], str):
                node[key] = [node[key][0], new_id[node[key][0]]]
        for value in node.values():
            _remap_ids(value, new_id)
    elif isinstance(node, list):
        for value in node:
            _remap_ids(value, new_id)


def _restrict_model(model: dict[str, Any], kept_tokens: list[str], new_id: dict[str, int]) -> None:
    """Rewrite the tokenizer model's vocabulary (and merges / unk id) to the kept tokens, in place."""
    old_tokens = _model_tokens(model)
    model_vocab = set(old_tokens.values())
    in_model = [t for t in kept_tokens if t in model_vocab]
    if [new_id[t] for t in in_model] != list(range(len(in_model))):  # added-only tokens come after the model's
        raise PruneError("prune.method: 'vocab': the tokenizer's added tokens are interleaved with its vocabulary")
    if model["type"] == "Unigram":
        scores = {piece: score for piece, score in model["vocab"]}
        unk = old_tokens.get(model["unk_id"]) if model.get("unk_id") is not None else None
        model["vocab"] = [[t, scores[t]] for t in in_model]
        model["unk_id"] = new_id[unk] if unk is not None else None
        return
    model["vocab"] = {t: new_id[t] for t in in_model}
    if model["type"] == "BPE":
        model["merges"] = [m for m in model["merges"]
                           if all(part in model["vocab"] for part in (*_merge_pair(m), "".join(_merge_pair(m))))]


def _rewrite_vocab_files(folder: Path, data: dict[str, Any], new_id: dict[str, int]) -> None:
    """Make the other vocabulary files save_pretrained wrote agree with the new tokenizer.json."""
    model = data["model"]
    if (folder / "vocab.txt").is_file() and model["type"] == "WordPiece":
        (folder / "vocab.txt").write_text("".join(t + "\n" for t in model["vocab"]), encoding="utf-8")
    if (folder / "vocab.json").is_file() and model["type"] == "BPE":
        (folder / "vocab.json").write_text(json.dumps(model["vocab"], ensure_ascii=False), encoding="utf-8")
    if (folder / "merges.txt").is_file() and model["type"] == "BPE":
        lines = ["#version: 0.2"] + [" ".join(_merge_pair(m)) for m in model["merges"]]
        (folder / "merges.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for name in SENTENCEPIECE_FILES:
        (folder / name).unlink(missing_ok=True)
    if (folder / "added_tokens.json").is_file():
        added = json.loads((folder / "added_tokens.json").read_text())
        (folder / "added_tokens.json").write_text(json.dumps({t: new_id[t] for t in added if t in new_id}))
    cfg_path = folder / "tokenizer_config.json"
    if cfg_path.is_file():
        cfg = json.loads(cfg_path.read_text())
        if isinstance(cfg.get("added_tokens_decoder"), dict):
            cfg["added_tokens_decoder"] = {str(new_id[v["content"]]): v for v in cfg["added_tokens_decoder"].values()}
        for key in ("vocab_file", "merges_file"):
            cfg.pop(key, None)
        cfg_path.write_text(json.dumps(cfg, ensure_ascii=False, indent=2))


def prune_tokenizer(tokenizer, keep: list[int]):
    """A tokenizer whose vocabulary is the kept tokens, renumbered in their old order.

    Goes through ``save_pretrained`` and ``from_pretrained`` so the result is the same tokenizer
    class, with every file (tokenizer.json, vocab files, tokenizer_config.json) consistent."""
    from tokenizers import Tokenizer

    data = _tokenizer_json(tokenizer)
    tokens = _all_tokens(data)
    kept_tokens = [tokens[i] for i in keep]
    new_id = {tok: n for n, tok in enumerate(kept_tokens)}
    _restrict_model(data["model"], kept_tokens, new_id)
    for added in data.get("added_tokens", []):
        added["id"] = new_id[added["content"]]
    _remap_ids(data.get("post_processor"), new_id)
    if data.get("padding") and "pad_token" in data["padding"]:
        data["padding"]["pad_id"] = new_id[data["padding"]["pad_token"]]
    text = json.dumps(data, ensure_ascii=False)
    try:
        Tokenizer.from_str(text)  # the tokenizers library's own check of the rewritten file
    except Exception as exc:
        raise PruneError(f"prune.method: 'vocab': the rewritten tokenizer.json does not load: {exc}") from exc
    with tempfile.TemporaryDirectory(prefix="hfcompress-vocab-") as tmp:
        folder = Path(tmp)
        tokenizer.save_pretrained(folder)
        (folder / "tokenizer.json").write_text(text, encoding="utf-8")
        _rewrite_vocab_files(folder, data, new_id)
        pruned = type(tokenizer).from_pretrained(folder)
    if len(pruned) != len(keep):
        raise PruneError(f"prune.method: 'vocab': rewritten tokenizer has {len(pruned)} tokens, expected {len(keep)}")
    return pruned


def _select_rows(old: nn.Linear, index: torch.Tensor) -> nn.Linear:
    new = nn.Linear(old.in_features, len(index), bias=old.bias is not None, device=old.weight.device,
                    dtype=old.weight.dtype)
    with torch.no_grad():
        new.weight.copy_(old.weight.index_select(0, index))
        if old.bias is not None:
            new.bias.copy_(old.bias.index_select(0, index))
    return new.train(old.training)


def _prune_output_embeddings(model: nn.Module, index: torch.Tensor, vocab_size: int) -> None:
    """Select the same rows of a language-model head (its decoder and any per-token bias beside it)."""
    out = model.get_output_embeddings()
    if out is None:
        return
    if not isinstance(out, nn.Linear) or out.out_features != vocab_size:
        raise PruneError(f"prune.method: 'vocab': the output embeddings ({type(out).__name__}) are not a "
                         f"{vocab_size}-row linear layer")
    parent = next(m for m in model.modules() if any(child is out for child in m.children()))
    with torch.no_grad():
        for name, param in list(parent.named_parameters(recurse=False)):  # e.g. RobertaLMHead.bias
            if param.dim() == 1 and param.shape[0] == vocab_size:
                setattr(parent, name, nn.Parameter(param.index_select(0, index), requires_grad=param.requires_grad))
    model.set_output_embeddings(_select_rows(out, index))


def prune_embeddings(model: nn.Module, keep: list[int]) -> None:
    """Keep rows ``keep`` of the input embeddings (and of an LM head), in that order; update the config."""
    old = model.get_input_embeddings()
    vocab_size = model.config.vocab_size
    if old.num_embeddings != vocab_size:
        raise PruneError(f"prune.method: 'vocab': embedding rows ({old.num_embeddings}) differ from "
                         f"config.vocab_size ({vocab_size})")
    index = torch.tensor(keep, dtype=torch.long, device=old.weight.device)
    position = {old_id: n for n, old_id in enumerate(keep)}
    padding_idx = position.get(old.padding_idx) if old.padding_idx is not None else None
    new = nn.Embedding(len(keep), old.embedding_dim, padding_idx=padding_idx, device=old.weight.device,
                       dtype=old.weight.dtype)
    with torch.no_grad():
        new.weight.copy_(old.weight.index_select(0, index))
    new.train(old.training)
    _prune_output_embeddings(model, index, vocab_size)
    model.set_input_embeddings(new)
    model.config.vocab_size = len(keep)
    if model.get_output_embeddings() is not None and getattr(model.config, "tie_word_embeddings", False):
        model.tie_weights()
    for field in SPECIAL_ID_FIELDS:
        value = getattr(model.config, field, None)
        if isinstance(value, int):
            setattr(model.config, field, position.get(value, value if value < len(keep) else None))


def _positions_follow_pad(model: nn.Module) -> bool:
    """RoBERTa-style embeddings (RoBERTa, XLM-R, ...) number positions from ``pad_token_id + 1``: there
    the pad id must not move, or every position embedding would shift."""
    pad = getattr(model.config, "pad_token_id", None)
    return isinstance(pad, int) and any(getattr(m, "padding_idx", None) == pad and not isinstance(m, nn.Embedding)
                                        for m in model.modules())


def used_token_ids(batches_or_dataset: Iterable[dict]) -> set[int]:
    """Every token id in a tokenized dataset (rows with ``input_ids``)."""
    used: set[int] = set()
    for row in batches_or_dataset:
        ids = row["input_ids"]
        used.update(ids.flatten().tolist() if isinstance(ids, torch.Tensor) else ids)
    return used


def text_lines(paths: Iterable[str]) -> list[str]:
    """The non-empty lines of UTF-8 text files (unlabelled text whose tokens a pruned vocabulary keeps)."""
    lines = []
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PruneError(f"prune.vocab_texts: cannot read {path} as UTF-8 text ({exc})") from None
        lines += [line.strip() for line in text.splitlines() if line.strip()]
    return lines


def prune_vocab(model: nn.Module, tokenizer, used_ids: Iterable[int], keep_chars: bool = True):
    """Prune model embeddings and tokenizer together; return (new tokenizer, stage result)."""
    before = model.get_input_embeddings().num_embeddings
    keep = tokens_to_keep(tokenizer, used_ids, keep_chars)
    if _positions_follow_pad(model):  # keep every id up to the pad id, so it keeps its number
        keep = sorted(set(keep) | set(range(model.config.pad_token_id + 1)))
    new_tokenizer = prune_tokenizer(tokenizer, keep)
    prune_embeddings(model, keep)
    kind = json.loads(tokenizer.backend_tokenizer.to_str())["model"]["type"]
    return new_tokenizer, {"vocab_size_before": before, "vocab_size": len(keep), "keep_chars": keep_chars,
                           "tokenizer_model": kind}

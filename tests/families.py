"""Tiny randomly initialised models of every supported family (2 layers, hidden 32), saved as folders
with a WordPiece tokenizer (text) the conformance tests and ``scripts/support_matrix.py`` run on."""

from __future__ import annotations

from pathlib import Path

import torch
import transformers as T

from tests import helpers

TEXT_FAMILIES = ("bert", "roberta", "xlm-roberta", "electra", "distilbert", "albert", "deberta-v2", "modernbert",
                 "mpnet")
IMAGE_FAMILIES = ("resnet", "vit", "convnext")
FAMILIES = TEXT_FAMILIES + IMAGE_FAMILIES


def text_config(family: str, vocab_size: int, num_labels: int = 2, hidden: int = 32):
    common = dict(vocab_size=vocab_size, num_labels=num_labels, max_position_embeddings=128, pad_token_id=0)
    enc = dict(hidden_size=hidden, num_hidden_layers=2, num_attention_heads=4, intermediate_size=2 * hidden)
    if family == "bert":
        return T.BertConfig(**common, **enc)
    if family == "roberta":
        return T.RobertaConfig(**common, **enc, bos_token_id=2, eos_token_id=3)
    if family == "xlm-roberta":
        return T.XLMRobertaConfig(**common, **enc, bos_token_id=2, eos_token_id=3)
    if family == "electra":
        return T.ElectraConfig(**common, **enc, embedding_size=hidden)
    if family == "distilbert":
        return T.DistilBertConfig(**common, dim=hidden, n_layers=2, n_heads=4, hidden_dim=2 * hidden)
    if family == "albert":
        return T.AlbertConfig(**common, **enc, embedding_size=16)
    if family == "deberta-v2":
        return T.DebertaV2Config(**common, **enc, relative_attention=True, position_buckets=16,
                                 pos_att_type=["p2c", "c2p"], max_relative_positions=-1, position_biased_input=False)
    if family == "modernbert":
        return T.ModernBertConfig(**common, **enc, bos_token_id=2, eos_token_id=3, cls_token_id=2, sep_token_id=3,
                                  global_attn_every_n_layers=2, local_attention=8)
    if family == "mpnet":
        return T.MPNetConfig(**common, **enc)
    raise KeyError(family)


def image_model(family: str, num_labels: int = 10):
    if family == "resnet":
        return helpers.tiny_resnet(num_labels=num_labels, depths=(2, 1))
    if family == "vit":
        config = T.ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                             intermediate_size=64, num_labels=num_labels)
        return T.ViTForImageClassification(config)
    if family == "convnext":
        config = T.ConvNextConfig(num_stages=2, hidden_sizes=[8, 16], depths=[2, 1], num_labels=num_labels, image_size=32)
        return T.ConvNextForImageClassification(config)
    raise KeyError(family)


def save_family(family: str, folder: Path, seed: int = 0, hidden: int = 32) -> Path:
    """A tiny model of ``family`` saved in ``folder`` (with a WordPiece tokenizer for text families)."""
    torch.manual_seed(seed)
    if family in IMAGE_FAMILIES:
        image_model(family).eval().save_pretrained(folder)
        return folder
    tok = helpers.make_tokenizer(folder / "_tok")
    model = T.AutoModelForSequenceClassification.from_config(text_config(family, len(tok), hidden=hidden)).eval()
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder

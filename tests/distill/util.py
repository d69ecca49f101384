"""Tiny models for the distillation tests (4-layer BERT teachers; the shared tiny_bert has 2 layers)."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import BertConfig, BertForSequenceClassification

from tests.helpers import make_tokenizer


def tiny_teacher(layers: int = 4, num_labels: int = 2, vocab_size: int = 200, hidden: int = 32, heads: int = 4,
                 seed: int = 0) -> BertForSequenceClassification:
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=layers,
                        num_attention_heads=heads, intermediate_size=2 * hidden, max_position_embeddings=64,
                        num_labels=num_labels, id2label={i: ("negative", "positive", "x", "y")[i] for i in range(num_labels)},
                        label2id={("negative", "positive", "x", "y")[i]: i for i in range(num_labels)})
    return BertForSequenceClassification(config).eval()


def save_tiny_teacher(folder: Path, **kw) -> Path:
    tok = make_tokenizer(folder / "_tok")
    tiny_teacher(vocab_size=len(tok), **kw).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder

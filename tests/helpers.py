"""Builders for tiny models and fixture datasets, shared by the tests (no network, seconds)."""

from __future__ import annotations

import io
from pathlib import Path

import datasets
import numpy as np
import torch
from PIL import Image
from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast, ResNetConfig, \
    ResNetForImageClassification

WORDS = ("the a an and or but not no is was are be this that it movie film good bad great awful "
         "love hate fun boring best worst story acting plot very really so too just what who why "
         "how he she they we you i of to in on for with as at by from question answer yes").split()


def make_tokenizer(folder: Path) -> BertTokenizerFast:
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + list("0123456789.,!?'-")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *letters, *("##" + l for l in letters)]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n")
    return BertTokenizerFast.from_pretrained(str(folder))  # works on transformers 4.57 and 5.x


def tiny_bert(num_labels: int = 2, vocab_size: int = 200, seed: int = 0, num_hidden_layers: int = 2,
              hidden_size: int = 32, **kw) -> BertForSequenceClassification:
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=vocab_size, hidden_size=hidden_size, num_hidden_layers=num_hidden_layers,
                        num_attention_heads=4, intermediate_size=2 * hidden_size, max_position_embeddings=128,
                        num_labels=num_labels, **kw)
    return BertForSequenceClassification(config).eval()


def save_tiny_bert(folder: Path, num_labels: int = 2, **kw) -> Path:
    tok = make_tokenizer(folder / "_tok")
    model = tiny_bert(num_labels=num_labels, vocab_size=len(tok), **kw)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def tiny_resnet(num_labels: int = 10, seed: int = 0, depths=(1, 1)) -> ResNetForImageClassification:
    torch.manual_seed(seed)
    config = ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=list(depths), layer_type="basic",
                          num_labels=num_labels)
    return ResNetForImageClassification(config).eval()


# ---- fixture datasets in the Hub's parquet layout --------------------------------------------
SENTENCES = ["the movie was good", "what a bad film", "great acting and story", "boring plot",
             "i love this movie", "the worst film", "very fun", "not good at all"]


def _labels(names):
    return datasets.ClassLabel(names=list(names))


def write_split(root: Path, repo: str, config: str | None, split: str, data: dict, features) -> Path:
    folder = root / repo / config if config else root / repo
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{split}-00000-of-00001.parquet"
    datasets.Dataset.from_dict(data, features=datasets.Features(features)).to_parquet(str(path))
    return path


def glue_fixture(root: Path, n: int = 16) -> Path:
    """Small GLUE-schema parquet files for every task, under ``root`` (a mirror root)."""
    rng = np.random.default_rng(0)
    s = lambda: [SENTENCES[i % len(SENTENCES)] for i in rng.integers(0, 100, n)]  # noqa: E731
    specs = {
        "cola": ({"sentence": s()}, ("unacceptable", "acceptable")),
        "sst2": ({"sentence": s()}, ("negative", "positive")),
        "mrpc": ({"sentence1": s(), "sentence2": s()}, ("not_equivalent", "equivalent")),
        "qqp": ({"question1": s(), "question2": s()}, ("not_duplicate", "duplicate")),
        "stsb": ({"sentence1": s(), "sentence2": s()}, None),
        "mnli": ({"premise": s(), "hypothesis": s()}, ("entailment", "neutral", "contradiction")),
        "qnli": ({"question": s(), "sentence": s()}, ("entailment", "not_entailment")),
        "rte": ({"sentence1": s(), "sentence2": s()}, ("entailment", "not_entailment")),
        "wnli": ({"sentence1": s(), "sentence2": s()}, ("not_entailment", "entailment")),
    }
    for name, (cols, labels) in specs.items():
        features = {c: datasets.Value("string") for c in cols}
        if labels is None:
            features["label"] = datasets.Value("float32")
            label_values = rng.uniform(0, 5, n).astype("float32").tolist()
        else:
            features["label"] = _labels(labels)
            label_values = (np.arange(n) % len(labels)).tolist()
        features["idx"] = datasets.Value("int32")
        data = {**cols, "label": label_values, "idx": list(range(n))}
        splits = ["train", "validation_matched", "validation_mismatched"] if name == "mnli" else ["train", "validation"]
        for split in splits:
            write_split(root, "nyu-mll/glue", name, split, data, features)
    return root


def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array.astype("uint8")).save(buf, format="PNG")
    return buf.getvalue()


def cifar_fixture(root: Path, n: int = 20) -> Path:
    rng = np.random.default_rng(0)
    images = [{"bytes": png_bytes(rng.integers(0, 255, (32, 32, 3))), "path": None} for _ in range(n)]
    names = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    features = {"img": datasets.Image(), "label": _labels(names)}
    for split in ("train", "test"):
        write_split(root, "uoft-cs/cifar10", "plain_text", split, {"img": images, "label": [i % 10 for i in range(n)]},
                    features)
    return root

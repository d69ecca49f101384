"""Tiny randomly initialised models of every supported family (2 layers, hidden 32), saved as folders
with the family's natural kind of tokenizer (WordPiece, byte-level BPE or Unigram, trained here on a few
hundred fixture sentences) that the conformance tests and ``scripts/support_matrix.py`` run on."""

from __future__ import annotations

import json
from pathlib import Path

import torch
import transformers as T

from tests import helpers

TEXT_FAMILIES = ("bert", "roberta", "xlm-roberta", "electra", "distilbert", "albert", "deberta-v2", "modernbert",
                 "mpnet")
IMAGE_FAMILIES = ("resnet", "vit", "convnext")
FAMILIES = TEXT_FAMILIES + IMAGE_FAMILIES
# the tokenizer model each family's released checkpoints use (MPNet's is WordPiece with <s> specials)
TOKENIZER_KIND = {"bert": "WordPiece", "electra": "WordPiece", "distilbert": "WordPiece", "mpnet": "WordPiece",
                  "roberta": "BPE", "modernbert": "BPE", "xlm-roberta": "Unigram", "albert": "Unigram",
                  "deberta-v2": "Unigram"}


def corpus(n: int = 400, seed: int = 0) -> list[str]:
    """A few hundred sentences over the fixture words and their inflections (the fixture SST-2 text is made
    of the same words; the inflections give the tokenizer trainers sub-word structure to find)."""
    import random

    rng = random.Random(seed)
    words = [w + end for w in helpers.WORDS for end in ("", "s", "ed", "ing", "ly")]
    return list(helpers.SENTENCES) + [" ".join(rng.choices(words, k=rng.randint(3, 9))) for _ in range(n)]


def train_bpe(texts, vocab_size: int = 400, specials=("<s>", "<pad>", "</s>", "<unk>", "<mask>")):
    """A byte-level BPE (GPT-2 / RoBERTa style) trained on ``texts``: (vocab, merges)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(specials),
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                       show_progress=False))
    model = json.loads(tok.to_str())["model"]
    return model["vocab"], [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]


def train_unigram(texts, vocab_size: int = 300, specials=("<pad>", "<unk>", "<s>", "</s>"), unk="<unk>"):
    """A SentencePiece-style Unigram model (Metaspace pieces with log-prob scores) trained on ``texts``."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.train_from_iterator(texts, trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=list(specials),
                                                           unk_token=unk, show_progress=False))
    return [tuple(v) for v in json.loads(tok.to_str())["model"]["vocab"]]


def make_family_tokenizer(family: str, folder: Path, texts=None):
    """The family's tokenizer class around a vocabulary trained on ``texts`` (default :func:`corpus`)."""
    texts = corpus() if texts is None else texts
    kind = TOKENIZER_KIND[family]
    if kind == "WordPiece":
        return helpers.make_tokenizer(folder)
    if family == "roberta":
        vocab, merges = train_bpe(texts)
        return T.RobertaTokenizer(vocab=vocab, merges=merges)
    if family == "modernbert":  # a byte-level BPE with BERT-style specials numbered after the merges, as
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors  # ModernBERT's are

        vocab, merges = train_bpe(texts, specials=())
        for special in ("[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"):
            vocab[special] = len(vocab)
        backend = Tokenizer(models.BPE(vocab=vocab, merges=merges))
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        backend.decoder = decoders.ByteLevel()
        backend.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
            special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
        return T.PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="[PAD]", unk_token="[UNK]",
                                         cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    if family == "xlm-roberta":
        return T.XLMRobertaTokenizer(vocab=train_unigram(texts, specials=("<s>", "<pad>", "</s>", "<unk>")))
    if family == "albert":
        return T.AlbertTokenizer(vocab=train_unigram(texts, specials=("<pad>", "<unk>", "[CLS]", "[SEP]")))
    if family == "deberta-v2":
        return T.DebertaV2Tokenizer(vocab=train_unigram(texts, specials=("[PAD]", "[UNK]", "[CLS]", "[SEP]"),
                                                        unk="[UNK]"))
    raise KeyError(family)


def special_ids(tok) -> dict:
    """The config's special-token ids, as the tokenizer numbers them."""
    ids = {"pad_token_id": tok.pad_token_id, "bos_token_id": tok.cls_token_id, "eos_token_id": tok.sep_token_id}
    return {k: v for k, v in ids.items() if v is not None}


def text_config(family: str, vocab_size: int, num_labels: int = 2, hidden: int = 32, tok=None):
    common = dict(vocab_size=vocab_size, num_labels=num_labels, max_position_embeddings=128, pad_token_id=0)
    ids = {"pad_token_id": 0, "bos_token_id": 2, "eos_token_id": 3, **(special_ids(tok) if tok is not None else {})}
    common["pad_token_id"] = ids["pad_token_id"]
    enc = dict(hidden_size=hidden, num_hidden_layers=2, num_attention_heads=4, intermediate_size=2 * hidden)
    if family == "bert":
        return T.BertConfig(**common, **enc)
    if family == "roberta":
        return T.RobertaConfig(**common, **enc, bos_token_id=ids["bos_token_id"], eos_token_id=ids["eos_token_id"])
    if family == "xlm-roberta":
        return T.XLMRobertaConfig(**common, **enc, bos_token_id=ids["bos_token_id"],
                                   eos_token_id=ids["eos_token_id"])
    if family == "electra":
        return T.ElectraConfig(**common, **enc, embedding_size=hidden)
    if family == "distilbert":
        return T.DistilBertConfig(**common, dim=hidden, n_layers=2, n_heads=4, hidden_dim=2 * hidden)
    if family == "albert":
        return T.AlbertConfig(**common, **enc, embedding_size=16 if hidden < 64 else 64)
    if family == "deberta-v2":
        return T.DebertaV2Config(**common, **enc, relative_attention=True, position_buckets=16,
                                 pos_att_type=["p2c", "c2p"], max_relative_positions=-1, position_biased_input=False)
    if family == "modernbert":
        return T.ModernBertConfig(**common, **enc, bos_token_id=ids["bos_token_id"], eos_token_id=ids["eos_token_id"],
                                  cls_token_id=ids["bos_token_id"], sep_token_id=ids["eos_token_id"],
                                  global_attn_every_n_layers=2, local_attention=8)
    if family == "mpnet":
        return T.MPNetConfig(**common, **enc)
    raise KeyError(family)


def image_model(family: str, num_labels: int = 10, hidden: int = 32):
    if family == "resnet":
        return helpers.tiny_resnet(num_labels=num_labels, depths=(2, 1))
    if family == "vit":
        config = T.ViTConfig(image_size=32, patch_size=8, hidden_size=hidden, num_hidden_layers=2,
                             num_attention_heads=4, intermediate_size=2 * hidden, num_labels=num_labels)
        return T.ViTForImageClassification(config)
    if family == "convnext":
        config = T.ConvNextConfig(num_stages=2, hidden_sizes=[8, 16], depths=[2, 1], num_labels=num_labels, image_size=32)
        return T.ConvNextForImageClassification(config)
    raise KeyError(family)


def save_family(family: str, folder: Path, seed: int = 0, hidden: int = 32) -> Path:
    """A tiny model of ``family`` saved in ``folder`` (with the family's kind of tokenizer for text)."""
    torch.manual_seed(seed)
    if family in IMAGE_FAMILIES:
        image_model(family, hidden=hidden).eval().save_pretrained(folder)
        return folder
    tok = make_family_tokenizer(family, folder / "_tok")
    torch.manual_seed(seed)
    model = T.AutoModelForSequenceClassification.from_config(
        text_config(family, len(tok), hidden=hidden, tok=tok)).eval()
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


# ---- the family x method conformance case (the tests and scripts/support_matrix.py run it) ------------
DISTILL = {"epochs": 1, "batch_size": 8, "eval_at_end": False, "max_train_samples": 8}
METHODS = {
    "prune heads": {"prune": {"method": "heads", "layers": {0: [1, 2]}}},  # uneven: 2 heads in layer 0, 4 in 1
    "prune ffn": {"prune": {"method": "ffn", "amount": 0.5, "importance": "magnitude"}},
    "prune unstructured": {"prune": {"method": "unstructured", "amount": 0.5}},
    "prune drop_layers": {"prune": {"method": "drop_layers", "drop": [1]}},
    "prune vocab": {"prune": {"method": "vocab"}},
    "prune channels": {"prune": {"method": "channels", "amount": 0.5, "importance": "magnitude",
                                 "score_samples": 4}},
    "distill layers": {"distill": {**DISTILL, "student": {"kind": "layers", "every_k": 2}}},
    "distill tinybert": {"distill": {**DISTILL, "student": {"kind": "tinybert", "num_layers": 1, "hidden_size": 16,
                                                            "num_attention_heads": 2, "intermediate_size": 32}}},
    "quantize torch-dynamic": {"quantize": {"method": "torch-dynamic"}},
    "quantize torch-static": {"quantize": {"method": "torch-static", "calibration_samples": 8}},
    "quantize bnb-8bit": {"quantize": {"method": "bnb-8bit"}},
    "quantize bnb-4bit": {"quantize": {"method": "bnb-4bit"}},
    "quantize fp16": {"quantize": {"method": "fp16"}},
    "quantize onnx-dynamic": {"quantize": {"method": "onnx-dynamic"}},
    "quantize onnx-static": {"quantize": {"method": "onnx-static", "calibration_samples": 8}},
    "quantize qat": {"quantize": {"method": "qat", "max_train_samples": 8, "batch_size": 4}},
}
# bitsandbytes' 4-bit blocks are 64 inputs wide: that case runs on hidden size 64 (real models are wider)
HIDDEN = {"quantize bnb-4bit": 64}
IMAGE_TINYBERT = {"kind": "tinybert", "num_layers": 1, "hidden_size": 4}
# methods that remove weights: the saved weights must be smaller than the source's
REMOVES_WEIGHTS = {"prune heads", "prune ffn", "prune drop_layers", "prune vocab", "prune channels",
                   "distill layers", "distill tinybert", "quantize torch-dynamic", "quantize fp16",
                   "quantize bnb-4bit", "quantize qat"}
# ALBERT's layers student runs its one shared layer fewer times: faster, but the same weights
SAME_WEIGHTS = {("albert", "distill layers")}
# a few seconds each per family: in the full (CI) suite only; the fast loop keeps onnx-fp32 export of six
# families (test_uneven_heads_export_to_onnx) and the BERT/ResNet registry conformance of every method
SLOW_METHODS = {"distill layers", "distill tinybert", "quantize torch-static", "quantize onnx-dynamic",
                "quantize onnx-static", "quantize qat"}
WEIGHT_SUFFIXES = (".safetensors", ".onnx", ".onnx_data", ".pt", ".bin")


def options(family: str, method: str) -> dict:
    body = {k: dict(v) for k, v in METHODS[method].items()}
    if family in IMAGE_FAMILIES and method == "distill tinybert":
        body["distill"]["student"] = dict(IMAGE_TINYBERT)
    if family == "modernbert" and method == "prune drop_layers":
        body["prune"]["drop"] = [1]
    return body


def weights_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).iterdir() if p.is_file() and p.suffix in WEIGHT_SUFFIXES)


def run_case(family: str, method: str, root: Path) -> tuple[str, str]:
    """Run ``method`` on a tiny ``family`` model: ("works", detail) after checking that the folder reloads
    through ``hfcompress.load`` with the in-memory outputs (and is smaller where weights go), or
    ("refused", the one-line reason) after checking nothing was written. Anything else raises."""
    import hfcompress
    from hfcompress.errors import HfCompressError
    from tests.quantize.util import image_batch, text_batch

    hidden = HIDDEN.get(method, 32)
    source = root / (f"{family}-source" if hidden == 32 else f"{family}-h{hidden}-source")
    if not (source / "config.json").is_file():
        save_family(family, source, hidden=hidden)
    out = root / f"{family}-{method.replace(' ', '-')}"
    task = "cifar10" if family in IMAGE_FAMILIES else "sst2"
    try:
        result = hfcompress.compress(str(source), options(family, method), task=task, output_dir=out)
    except HfCompressError as exc:
        message = str(exc)
        assert "\n" not in message, f"refusal is not one line: {message!r}"
        assert not out.exists(), f"refused ({message}) but {out} was written"
        return "refused", message
    again = hfcompress.load(out, task=hfcompress.get_task(task))
    batch = image_batch() if family in IMAGE_FAMILIES else text_batch(again)
    with torch.inference_mode():
        before, after = result.predict(batch).float(), again.predict(batch).float()
    assert torch.allclose(before, after, rtol=1e-4, atol=1e-5), \
        f"reloaded outputs differ by {(before - after).abs().max().item():.3g}"
    if method in REMOVES_WEIGHTS and (family, method) not in SAME_WEIGHTS:
        assert weights_size(out) < weights_size(source), f"{method} did not make the weights smaller"
    return "works", f"{weights_size(out) / weights_size(source):.2f}x size"


FAMILY_NAMES = {"bert": "BERT", "roberta": "RoBERTa", "xlm-roberta": "XLM-RoBERTa", "electra": "ELECTRA",
                "distilbert": "DistilBERT", "albert": "ALBERT", "deberta-v2": "DeBERTa-v2", "modernbert": "ModernBERT",
                "mpnet": "MPNet", "resnet": "ResNet", "vit": "ViT", "convnext": "ConvNeXt"}

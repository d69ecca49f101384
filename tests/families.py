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
    "quantize fp16": {"quantize": {"method": "fp16"}},
}
IMAGE_TINYBERT = {"kind": "tinybert", "num_layers": 1, "hidden_size": 4}
# methods that remove weights: the saved weights must be smaller than the source's
REMOVES_WEIGHTS = {"prune heads", "prune ffn", "prune drop_layers", "prune vocab", "prune channels",
                   "distill layers", "distill tinybert", "quantize torch-dynamic", "quantize fp16"}
# ALBERT's layers student runs its one shared layer fewer times: faster, but the same weights
SAME_WEIGHTS = {("albert", "distill layers")}
SLOW_METHODS = {"distill layers", "distill tinybert", "quantize torch-static"}
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

    source = root / f"{family}-source"
    if not (source / "config.json").is_file():
        save_family(family, source)
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

"""Sentence-transformers embedding models (all-MiniLM-L6-v2 is one): compressed as embedding models.

A sentence-transformers folder is a headless transformers encoder (``config.json`` + weights +
tokenizer at the top) plus ``modules.json`` naming its pipeline (Transformer -> Pooling ->
Normalize), ``1_Pooling/config.json`` and ``sentence_bert_config.json``. Here it is loaded as the
encoder (``AutoModel``, no classifier) with its pooling, compressed with the family adapters' layer
dropping, vocabulary pruning and embedding distillation (MSE + cosine to the teacher's embedding),
scored on STS-B the way MTEB scores STS (Spearman of the cosine similarity of the two sentences'
embeddings against the gold score), and saved in the same layout, so that
``sentence_transformers.SentenceTransformer(path)`` loads it. Neither ``sentence-transformers`` nor
any other extra is needed to do so.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Optional, Sequence

import torch

from hfcompress.errors import HfCompressError

ST_FILES = ("modules.json", "sentence_bert_config.json", "config_sentence_transformers.json")


class EmbeddingModelError(HfCompressError):
    """Not a sentence-transformers folder, or an operation that does not apply to one."""


def is_sentence_transformer(path) -> bool:
    return (Path(path) / "modules.json").is_file()


@dataclasses.dataclass
class EmbeddingModel:
    model: torch.nn.Module      # the headless encoder (AutoModel)
    tokenizer: object
    pooling: dict               # 1_Pooling/config.json
    modules: list               # modules.json
    source: Path
    max_length: int = 256

    @property
    def normalize(self) -> bool:
        return any(m.get("type", "").endswith("Normalize") for m in self.modules)

    @torch.no_grad()
    def encode(self, sentences: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        self.model.eval()
        out = []
        for i in range(0, len(sentences), batch_size):
            batch = self.tokenizer(list(sentences[i:i + batch_size]), padding=True, truncation=True,
                                   max_length=self.max_length, return_tensors="pt")
            out.append(self.embed(batch))
        return torch.cat(out)

    def embed(self, batch: dict) -> torch.Tensor:
        """Pooled (and normalised, where the pipeline says so) embeddings of a tokenised batch; differentiable."""
        hidden = self.model(**{k: v for k, v in batch.items() if k in ("input_ids", "attention_mask",
                                                                       "token_type_ids")}).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        if self.pooling.get("pooling_mode_cls_token"):
            pooled = hidden[:, 0]
        elif self.pooling.get("pooling_mode_max_tokens"):
            pooled = hidden.masked_fill(mask == 0, -1e9).max(dim=1).values
        else:
            summed, counts = (hidden * mask).sum(1), mask.sum(1).clamp(min=1e-9)
            pooled = summed / (counts.sqrt() if self.pooling.get("pooling_mode_mean_sqrt_len_tokens") else counts)
        return torch.nn.functional.normalize(pooled, dim=-1) if self.normalize else pooled


def load_embedding_model(path) -> EmbeddingModel:
    from transformers import AutoModel, AutoTokenizer

    path = Path(path)
    if not is_sentence_transformer(path):
        raise EmbeddingModelError(f"{path}: not a sentence-transformers folder (no modules.json)")
    modules = json.loads((path / "modules.json").read_text())
    pooling_dir = next((m["path"] for m in modules if m.get("type", "").endswith("Pooling")), None)
    if pooling_dir is None:
        raise EmbeddingModelError(f"{path}/modules.json: no Pooling module; hfcompress embeds with the pooling")
    pooling = json.loads((path / pooling_dir / "config.json").read_text())
    unknown = [m["type"] for m in modules if not m.get("type", "").endswith(("Transformer", "Pooling", "Normalize"))]
    if unknown:
        raise EmbeddingModelError(f"{path}/modules.json: modules {unknown} are not supported (Transformer, Pooling, "
                                  "Normalize are)")
    config = path / "sentence_bert_config.json"
    max_length = json.loads(config.read_text()).get("max_seq_length", 256) if config.is_file() else 256
    model = AutoModel.from_pretrained(path, use_safetensors=True).eval()
    return EmbeddingModel(model, AutoTokenizer.from_pretrained(path), pooling, modules, path, max_length)


def stsb_pairs(split: str = "validation", mirror: Optional[str] = None, limit: Optional[int] = None):
    """(sentences1, sentences2, gold scores) of GLUE STS-B from the dataset mirror."""
    import os

    import pandas as pd

    root = Path(mirror or os.environ.get("HFCOMPRESS_DATASETS_MIRROR", "")) / "nyu-mll/glue/stsb"
    files = sorted(root.glob(f"{split}-*.parquet"))
    if not files:
        raise EmbeddingModelError(f"STS-B {split}: no {split}-*.parquet under {root}")
    frame = pd.concat([pd.read_parquet(f) for f in files])
    if limit:
        frame = frame.head(limit)
    return list(frame.sentence1), list(frame.sentence2), [float(x) for x in frame.label]


def sts_spearman(em: EmbeddingModel, split: str = "validation", mirror: Optional[str] = None,
                 limit: Optional[int] = None) -> float:
    """Spearman correlation of cos(emb(s1), emb(s2)) with the gold similarity (MTEB's STS main score)."""
    from scipy.stats import spearmanr

    s1, s2, gold = stsb_pairs(split, mirror, limit)
    a, b = em.encode(s1), em.encode(s2)
    cosine = torch.nn.functional.cosine_similarity(a, b).tolist()
    return float(spearmanr(cosine, gold)[0])


def drop_layers(em: EmbeddingModel, drop: Sequence[int]) -> dict:
    """Remove transformer layers ``drop`` (through the family adapter)."""
    from hfcompress.prune.layers import drop_units

    return drop_units(em.model, list(drop))


def prune_vocab(em: EmbeddingModel, texts: Sequence[str]) -> dict:
    """Keep the token embeddings ``texts`` use (plus specials and single characters); rewrites the tokenizer."""
    from hfcompress.prune.vocab import prune_vocab as prune

    used = set()
    for i in range(0, len(texts), 256):
        for ids in em.tokenizer(list(texts[i:i + 256]), truncation=True, max_length=em.max_length)["input_ids"]:
            used.update(ids)
    em.tokenizer, result = prune(em.model, em.tokenizer, used)
    return result


def distill_embeddings(student: EmbeddingModel, teacher: EmbeddingModel, texts: Sequence[str], *, epochs: int = 1,
                       batch_size: int = 32, lr: float = 5e-5, cosine_weight: float = 1.0, seed: int = 0) -> dict:
    """Train ``student`` so its embeddings match the teacher's: MSE + ``cosine_weight`` x (1 - cos)."""
    generator = torch.Generator().manual_seed(seed)
    optim = torch.optim.AdamW(student.model.parameters(), lr=lr)
    losses = []
    student.model.train()
    for _ in range(epochs):
        order = torch.randperm(len(texts), generator=generator).tolist()
        for i in range(0, len(order), batch_size):
            chunk = [texts[j] for j in order[i:i + batch_size]]
            target = teacher.encode(chunk, batch_size=batch_size)
            batch = student.tokenizer(chunk, padding=True, truncation=True, max_length=student.max_length,
                                      return_tensors="pt")
            pred = student.embed(batch)
            loss = torch.nn.functional.mse_loss(pred, target) + cosine_weight * (
                1 - torch.nn.functional.cosine_similarity(pred, target)).mean()
            optim.zero_grad()
            loss.backward()
            optim.step()
            losses.append(float(loss.detach()))
    student.model.eval()
    return {"steps": len(losses), "first_loss": losses[0] if losses else None, "last_loss": losses[-1] if losses else None}


def save_sentence_transformer(em: EmbeddingModel, out, record: Optional[dict] = None) -> Path:
    """Write ``em`` in the sentence-transformers layout (loadable by ``SentenceTransformer(out)``)."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise EmbeddingModelError(f"{out}: exists and is not empty")
    out.mkdir(parents=True, exist_ok=True)
    if record is not None:
        em.model.config.hfcompress = record
    em.model.save_pretrained(out, safe_serialization=True)
    em.tokenizer.save_pretrained(out)
    for name in ST_FILES:
        if (em.source / name).is_file():
            shutil.copy2(em.source / name, out / name)
    for module in em.modules:
        if not module.get("path"):
            continue
        folder = out / module["path"]
        folder.mkdir(exist_ok=True)
        if module["type"].endswith("Pooling"):
            pooling = dict(em.pooling, word_embedding_dimension=em.model.get_input_embeddings().embedding_dim)
            (folder / "config.json").write_text(json.dumps(pooling, indent=2))
        elif (em.source / module["path"]).is_dir():
            for f in (em.source / module["path"]).iterdir():
                if f.is_file():
                    shutil.copy2(f, folder / f.name)
    return out

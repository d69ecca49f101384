"""Loading a sentence-transformers folder as an embedding model (a loader plugin of :mod:`hfcompress.hub.load`).

The encoder is read by the loader that would read it anyway (``pytorch`` with the record's skeleton
rebuilds, ``torch-int8``, ``half``; an ONNX graph here, because its output is the token embeddings
rather than logits), and the folder's Pooling / Normalize modules are applied on top. A folder
loaded for a task that is not sentence-pair similarity (``hfcompress train --task sst2 --model
all-MiniLM-L6-v2``) is loaded as its encoder by the ordinary loaders, as before: a classifier head
on it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Iterator, Optional, Sequence

import torch

from hfcompress.embeddings.model import StLayout, is_sentence_transformer, pool, read_layout, token_embeddings
from hfcompress.embeddings.task import SimilarityTask, side
from hfcompress.hub.load import LoadedModel, Loader, register_loader

NAME = "sentence-transformers"


@dataclasses.dataclass
class EmbeddingLoaded(LoadedModel):
    """An embedding model: ``model`` is the encoder's runtime (a PyTorch module or an ONNX Runtime encoder),
    ``inner`` what its own loader returned (weights and files are counted from it)."""

    inner: Optional[LoadedModel] = None
    layout: Optional[StLayout] = None

    @property
    def runtime(self) -> str:
        return self.inner.loader

    @property
    def max_length(self) -> int:
        return self.layout.max_length

    def embed(self, batch: dict) -> torch.Tensor:
        """Sentence embeddings of a tokenised batch (Pooling, then Normalize where the pipeline has it)."""
        return pool(token_embeddings(self.model, batch), batch["attention_mask"], self.layout)

    def predict(self, batch: dict) -> torch.Tensor:
        """Cosine similarity of the two sentences of each pair (a :class:`SimilarityTask` batch)."""
        with torch.inference_mode():
            a, b = self.embed(side(batch, "a")), self.embed(side(batch, "b"))
        return torch.nn.functional.cosine_similarity(a, b)

    @torch.inference_mode()
    def encode(self, sentences: Sequence[str], batch_size: int = 64, max_length: Optional[int] = None) -> torch.Tensor:
        out = []
        for i in range(0, len(sentences), batch_size):
            batch = self.preprocessor(list(sentences[i:i + batch_size]), padding=True, truncation=True,
                                      max_length=max_length or self.max_length, return_tensors="pt")
            out.append(self.embed(batch))
        return torch.cat(out) if out else torch.empty(0)

    def weight_tensors(self) -> Iterator[tuple[str, torch.Tensor]]:
        yield from self.inner.weight_tensors()

    def weight_files(self) -> list[Path]:
        return self.inner.weight_files()


def _ordinary(path: Path, config: dict, task, source: str, **kwargs) -> LoadedModel:
    """What the next loader in priority order returns for this folder."""
    from hfcompress.hub.load import matching_loader

    loader = matching_loader(path, config, skip=(NAME,))
    if loader is None:
        raise AssertionError("the pytorch loader matches every folder")
    return loader.load(path, task=task, source=source, **kwargs)


def load_embedding(path: Path, task=None, source: str = "", threads: Optional[int] = None, **kwargs) -> LoadedModel:
    from hfcompress.hub.load import read_config

    config = read_config(path)
    if task is not None and not isinstance(task, SimilarityTask):
        return _ordinary(path, config, task, source, **kwargs)  # e.g. a classifier made from the encoder
    layout = read_layout(path)
    if (path / "model.onnx").is_file():
        from transformers import AutoConfig, AutoTokenizer

        from hfcompress.embeddings.onnx import OnnxEncoder
        from hfcompress.hub.record import CompressionRecord
        from hfcompress.quantize.loaders import OnnxLoadedModel

        cfg = AutoConfig.from_pretrained(path)
        inner = OnnxLoadedModel(model=OnnxEncoder(path, threads=threads), config=cfg, path=path,
                                source=source or str(path), loader="onnx",
                                record=CompressionRecord.from_model_config(cfg),
                                preprocessor=AutoTokenizer.from_pretrained(path))
    else:
        inner = _ordinary(path, config, None, source, **kwargs)
        if inner.preprocessor is None:
            from transformers import AutoTokenizer

            inner.preprocessor = AutoTokenizer.from_pretrained(path)
    return EmbeddingLoaded(model=inner.model, config=inner.config, path=path, source=source or str(path),
                           loader=f"{NAME}:{inner.loader}", record=inner.record, preprocessor=inner.preprocessor,
                           input_dtype=inner.input_dtype, inner=inner, layout=layout)


def _matches(path: Path, config: dict) -> bool:
    return is_sentence_transformer(path)


register_loader(Loader(name=NAME, matches=_matches, load=load_embedding, priority=40))

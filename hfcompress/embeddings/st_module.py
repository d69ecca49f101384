"""A sentence-transformers input module that runs a folder's encoder through hfcompress's loader.

``modules.json`` of an ONNX Runtime, PyTorch INT8 or reshaped (head-pruned) embedding model names
``hfcompress.embeddings.st_module.Transformer`` as its first module; sentence-transformers' own
Pooling and Normalize modules follow as in the original model::

    from sentence_transformers import SentenceTransformer
    model = SentenceTransformer("out/minilm-int8", trust_remote_code=True)   # imports this installed class

sentence-transformers >= 6.0 imports a module class from outside its own package only with
``trust_remote_code=True``; the class comes from the installed hfcompress, never from the folder,
and the weights are read by hfcompress's loader (safetensors or ONNX, validated, no pickle). This
module imports sentence-transformers; nothing else in hfcompress does.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Optional

import torch

try:  # sentence-transformers 6.x
    from sentence_transformers.base.modules.input_module import InputModule
except ImportError:  # pragma: no cover - 5.x
    from sentence_transformers.models import InputModule


class Transformer(InputModule):
    """Tokenizer + encoder of an hfcompress embedding folder; writes ``token_embeddings`` into the features."""

    config_keys: list[str] = []
    save_in_root = True

    def __init__(self, model_name_or_path: str, max_seq_length: Optional[int] = None):
        super().__init__()
        from hfcompress.embeddings.loader import EmbeddingLoaded
        from hfcompress.errors import ModelLoadError
        from hfcompress.hub.load import load

        loaded = load(model_name_or_path)
        if not isinstance(loaded, EmbeddingLoaded):
            raise ModelLoadError(f"{model_name_or_path}: not an hfcompress embedding-model folder")
        self.loaded = loaded
        self.tokenizer = loaded.preprocessor
        self.max_seq_length = max_seq_length or loaded.max_length
        # a PyTorch encoder is a submodule (moves with .to(device), counts in .parameters()); ONNX Runtime is not
        self.auto_model = loaded.model if isinstance(loaded.model, torch.nn.Module) else None

    @classmethod
    def load(cls, model_name_or_path: str, subfolder: str = "", token=None, cache_folder=None, revision=None,
             local_files_only: bool = False, **kwargs) -> "Transformer":
        from hfcompress.hub.load import resolve_model_dir

        folder = Path(resolve_model_dir(model_name_or_path, revision)) / subfolder
        return cls(str(folder))

    def preprocess(self, inputs, prompt: Optional[str] = None, **kwargs) -> dict[str, Any]:
        texts = [str(t) for t in inputs]
        if prompt:
            texts = [prompt + t for t in texts]
        return dict(self.tokenizer(texts, padding=True, truncation="longest_first", max_length=self.max_seq_length,
                                   return_tensors="pt"))

    def forward(self, features: dict[str, Any], **kwargs) -> dict[str, Any]:
        from hfcompress.embeddings.model import token_embeddings

        hidden = token_embeddings(self.loaded.model, features)
        features["token_embeddings"] = hidden.float().to(features["attention_mask"].device)
        return features

    def get_word_embedding_dimension(self) -> int:
        return int(self.loaded.config.hidden_size)

    get_embedding_dimension = get_word_embedding_dimension

    def save(self, output_path: str, *args, safe_serialization: bool = True, **kwargs) -> None:
        """Copy the encoder's files (weights or graph, config with the record, tokenizer) as they are."""
        src, dst = Path(self.loaded.path), Path(output_path)
        dst.mkdir(parents=True, exist_ok=True)
        for f in src.iterdir():
            if f.is_file() and f.name not in ("modules.json",) and src.resolve() != dst.resolve():
                shutil.copy2(f, dst / f.name)

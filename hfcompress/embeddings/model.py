"""The sentence-transformers layout: what makes a folder an embedding model, pooling, and writing one.

A sentence-transformers folder is a headless transformers encoder (``config.json`` + weights +
tokenizer at the top) plus ``modules.json`` naming its pipeline (Transformer -> Pooling ->
Normalize), ``1_Pooling/config.json`` and ``sentence_bert_config.json``. hfcompress keeps all of
it: the encoder is compressed like any other model of its family, the pooling and normalisation are
kept as they are, and every output is written in the same layout, so that
``sentence_transformers.SentenceTransformer(path)`` loads it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Optional

import torch

from hfcompress.errors import HfCompressError

ST_TRANSFORMER = "sentence_transformers.models.Transformer"
# The sentence-transformers module that runs a folder through hfcompress's own loader (ONNX Runtime
# graphs, PyTorch INT8, head-pruned skeletons). A class outside ``sentence_transformers`` is imported
# by SentenceTransformer only with trust_remote_code=True (sentence-transformers >= 6.0); it is
# imported from the installed hfcompress, never from the folder.
HFCOMPRESS_TRANSFORMER = "hfcompress.embeddings.st_module.Transformer"
POOLING_MODES = ("pooling_mode_cls_token", "pooling_mode_mean_tokens", "pooling_mode_max_tokens",
                 "pooling_mode_mean_sqrt_len_tokens")
OTHER_POOLING = ("pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken")
# sentence-transformers >= 6 writes ``"pooling_mode": "mean"`` (or a list) instead of the boolean keys
MODE_NAMES = {"cls": "pooling_mode_cls_token", "mean": "pooling_mode_mean_tokens", "max": "pooling_mode_max_tokens",
              "mean_sqrt_len_tokens": "pooling_mode_mean_sqrt_len_tokens",
              "weightedmean": "pooling_mode_weightedmean_tokens", "lasttoken": "pooling_mode_lasttoken"}


def pooling_modes(pooling: dict) -> dict:
    """The boolean ``pooling_mode_*`` keys of a Pooling config in either sentence-transformers format."""
    modes = pooling.get("pooling_mode")
    if modes is None:
        return {k: bool(pooling.get(k)) for k in (*POOLING_MODES, *OTHER_POOLING)}
    names = [modes] if isinstance(modes, str) else list(modes)
    return {key: name in names for name, key in MODE_NAMES.items()} | {
        f"unknown:{n}": True for n in names if n not in MODE_NAMES}
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class EmbeddingModelError(HfCompressError):
    """Not a sentence-transformers folder hfcompress supports, or an operation that does not apply to one."""


def is_sentence_transformer(path) -> bool:
    """A local folder with ``modules.json`` whose ``config.json`` is a headless encoder (no task head)."""
    path = Path(path)
    if not (path / "modules.json").is_file() or not (path / "config.json").is_file():
        return False
    try:
        archs = json.loads((path / "config.json").read_text()).get("architectures") or []
    except (OSError, ValueError):
        return False
    return not any("For" in a for a in archs)  # BertModel, MPNetModel ...: no classifier


@dataclasses.dataclass
class StLayout:
    """The sentence-transformers files of a folder, besides the encoder: kept as they are."""

    modules: list  # modules.json
    pooling: dict  # 1_Pooling/config.json (or wherever modules.json puts the Pooling module)
    sbert_config: dict  # sentence_bert_config.json
    extra: dict  # other small JSON files kept verbatim (config_sentence_transformers.json)

    @property
    def normalize(self) -> bool:
        return any(m.get("type", "").endswith("Normalize") for m in self.modules)

    @property
    def max_length(self) -> int:
        return int(self.sbert_config.get("max_seq_length") or 256)

    @property
    def pooling_dir(self) -> str:
        return next(m["path"] for m in self.modules if m.get("type", "").endswith("Pooling"))


def read_layout(path) -> StLayout:
    """Read and check a folder's sentence-transformers files (one line naming the file if unsupported)."""
    path = Path(path)
    where = path / "modules.json"
    try:
        modules = json.loads(where.read_text())
        if not isinstance(modules, list) or not all(isinstance(m, dict) for m in modules):
            raise ValueError("expected a list of modules")
    except (OSError, ValueError) as exc:
        raise EmbeddingModelError(f"{where}: unreadable ({exc})") from None
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    if not kinds or kinds[0] != "Transformer" or "Pooling" not in kinds:
        raise EmbeddingModelError(f"{where}: hfcompress compresses a Transformer -> Pooling [-> Normalize] pipeline; "
                                  f"this one is {kinds}")
    unknown = [k for k in kinds if k not in ("Transformer", "Pooling", "Normalize")]
    if unknown:
        raise EmbeddingModelError(f"{where}: modules {unknown} are not supported (Transformer, Pooling, Normalize are)")
    for m in modules:
        if m.get("path") and (Path(m["path"]).is_absolute() or ".." in Path(m["path"]).parts):
            raise EmbeddingModelError(f"{where}: module path {m['path']!r} leaves the folder")
    pooling_dir = next(m["path"] for m in modules if m.get("type", "").endswith("Pooling"))
    pooling = _json(path / pooling_dir / "config.json")
    modes = pooling_modes(pooling)
    odd = [k for k, on in modes.items() if on and k not in POOLING_MODES]
    if odd or not any(modes.get(k) for k in POOLING_MODES):
        raise EmbeddingModelError(f"{path / pooling_dir / 'config.json'}: pooling {odd or 'none'} is not supported "
                                  f"(one of {', '.join(m.removeprefix('pooling_mode_') for m in POOLING_MODES)})")
    sbert = _json(path / "sentence_bert_config.json", missing={})
    extra = {name: _json(path / name) for name in ("config_sentence_transformers.json",) if (path / name).is_file()}
    return StLayout(modules, pooling, sbert, extra)


def _json(path: Path, missing: Optional[dict] = None) -> dict:
    if not path.is_file() and missing is not None:
        return dict(missing)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise EmbeddingModelError(f"{path}: unreadable ({exc})") from None


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, layout: StLayout) -> torch.Tensor:
    """The Pooling (+ Normalize) modules of the pipeline, as sentence-transformers computes them; differentiable."""
    hidden = hidden.float()
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    parts = []
    cfg = pooling_modes(layout.pooling)
    if cfg.get("pooling_mode_cls_token"):
        parts.append(hidden[:, 0])
    if cfg.get("pooling_mode_max_tokens"):
        parts.append(hidden.masked_fill(mask == 0, -1e9).max(dim=1).values)
    summed, counts = (hidden * mask).sum(1), mask.sum(1).clamp(min=1e-9)
    if cfg.get("pooling_mode_mean_tokens"):
        parts.append(summed / counts)
    if cfg.get("pooling_mode_mean_sqrt_len_tokens"):
        parts.append(summed / counts.sqrt())
    pooled = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
    return torch.nn.functional.normalize(pooled, dim=-1) if layout.normalize else pooled


def token_embeddings(model, batch: dict) -> torch.Tensor:
    """The encoder's last hidden states for a tokenised batch (a PyTorch module or an ONNX Runtime encoder)."""
    inputs = {k: v for k, v in batch.items() if k in MODEL_INPUTS}
    if isinstance(model, torch.nn.Module):
        return model(**inputs).last_hidden_state
    return model(**inputs)


def st_module_type(record, runtime: str) -> str:
    """The Transformer module class of an output folder: sentence-transformers' own where plain
    ``AutoModel.from_pretrained`` rebuilds the model, hfcompress's where only hfcompress's loader can
    (an ONNX graph, INT8 or half weights, a skeleton reshaped by the record)."""
    from hfcompress.hub.rebuild import stages_to_rebuild

    if runtime != "pytorch" or stages_to_rebuild(record):
        return HFCOMPRESS_TRANSFORMER
    return ST_TRANSFORMER


def write_layout(folder: Path, layout: StLayout, hidden_size: int, transformer_type: str) -> None:
    """modules.json (Transformer module class set), the Pooling config (width updated), sentence_bert_config."""
    modules = [dict(m) for m in layout.modules]
    modules[0]["type"] = transformer_type
    (folder / "modules.json").write_text(json.dumps(modules, indent=2))
    for m in modules:
        if m.get("path"):
            (folder / m["path"]).mkdir(parents=True, exist_ok=True)
    width = "embedding_dimension" if "pooling_mode" in layout.pooling else "word_embedding_dimension"
    pooling = dict(layout.pooling, **{width: hidden_size})
    (folder / layout.pooling_dir / "config.json").write_text(json.dumps(pooling, indent=2))
    (folder / "sentence_bert_config.json").write_text(json.dumps(layout.sbert_config or {"max_seq_length": 256},
                                                                 indent=2))
    for name, data in layout.extra.items():
        (folder / name).write_text(json.dumps(data, indent=2))


def publish(output_dir, save: Callable[[Path], Any], layout: StLayout, hidden_size: int, transformer_type: str,
            overwrite: Optional[bool] = None) -> Path:
    """Write a sentence-transformers folder atomically: ``save(folder)`` (hfcompress's one save path,
    :func:`hfcompress.hub.save.save_compressed`) writes the encoder, record and card, then the layout files
    are added, and the whole folder is published in one step."""
    from hfcompress.hub.save import atomic_directory

    output_dir = Path(output_dir)
    with atomic_directory(output_dir, overwrite=overwrite) as tmp:
        inner = tmp / "encoder"
        save(inner)
        for entry in inner.iterdir():
            os.rename(entry, tmp / entry.name)
        shutil.rmtree(inner)
        write_layout(tmp, layout, hidden_size, transformer_type)
    return output_dir

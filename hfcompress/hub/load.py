"""Loading any model hfcompress can evaluate: a small registry of loaders.

``load(name_or_path)`` resolves a local directory or a Hub repo id to a local folder (the real
``huggingface_hub.snapshot_download``, which also serves ``HF_HUB_OFFLINE=1`` from the cache),
then asks each registered :class:`Loader`, highest priority first, whether it recognises the
folder (by its files and config: an ONNX graph, a ``quantization_config``, a compression record
...). Later compression methods add loaders or skeleton-rebuild functions; callers never change.

No pickle on the load path: weights are read from safetensors only, so a model folder from the
Hub cannot run code.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import torch

from hfcompress.errors import ModelLoadError
from hfcompress.hub.record import CompressionRecord, Stage

WEIGHT_SUFFIXES = (".safetensors", ".onnx", ".onnx_data", ".bin", ".pt", ".pth")
_HUB_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "*.onnx", "*.onnx_data", "README.md"]
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


# ---------------------------------------------------------------------------------------------
# What a loader returns
# ---------------------------------------------------------------------------------------------
@dataclasses.dataclass
class LoadedModel:
    """A model ready for inference, with what evaluation needs to know about it."""

    model: Any  # a torch.nn.Module, or another runtime's session wrapper
    config: Any  # the transformers config
    path: Path  # local folder the model came from
    source: str  # what the user named (path or Hub id)
    loader: str  # name of the loader that built it
    record: Optional[CompressionRecord] = None
    preprocessor: Any = None
    # floating inputs (``pixel_values``: collators make float32) are cast to this dtype; set by loaders
    # whose model computes in another float dtype (fp16 / bf16). INT8 models keep float32 activations.
    input_dtype: Optional[torch.dtype] = None

    def predict(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Logits for one collated batch."""
        if self.input_dtype is not None:
            batch = {k: v.to(self.input_dtype) if isinstance(v, torch.Tensor) and v.is_floating_point() else v
                     for k, v in batch.items()}
        with torch.inference_mode():
            out = self.model(**batch)
        logits = out.logits if hasattr(out, "logits") else out[0]
        return torch.as_tensor(logits)

    def weight_tensors(self) -> Iterator[tuple[str, torch.Tensor]]:
        """Named weights for parameter and sparsity counts (loaders of other runtimes override)."""
        if isinstance(self.model, torch.nn.Module):
            yield from self.model.named_parameters()

    def weight_files(self) -> list[Path]:
        """Files holding the weights, for the size on disk."""
        return sorted(p for p in self.path.iterdir() if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES))


# ---------------------------------------------------------------------------------------------
# The registries
# ---------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Loader:
    name: str
    matches: Callable[[Path, dict], bool]
    load: Callable[..., LoadedModel]
    priority: int = 0


_LOADERS: list[Loader] = []


def register_loader(loader: Loader) -> Loader:
    _LOADERS[:] = sorted([*(l for l in _LOADERS if l.name != loader.name), loader], key=lambda l: -l.priority)
    return loader


def loaders() -> list[str]:
    return [l.name for l in _LOADERS]


def matching_loader(path: Path, config: dict, skip: tuple[str, ...] = ()) -> Optional[Loader]:
    """The first loader in priority order that recognises ``path`` (``skip``: loaders to pass over, e.g. a
    loader that wraps what the next one loads)."""
    return next((l for l in _LOADERS if l.name not in skip and l.matches(path, config)), None)


# ---------------------------------------------------------------------------------------------
# Resolution: local folder or Hub id -> local folder
# ---------------------------------------------------------------------------------------------
def resolve_model_dir(name_or_path: str | os.PathLike, revision: Optional[str] = None) -> Path:
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise ModelLoadError(f"model path is a file, not a model folder: {path}")
    text = str(name_or_path)
    if text.startswith((".", "/", "~")) or not _REPO_ID.match(text):
        raise ModelLoadError(f"model folder not found: {path}")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(text, revision=revision, allow_patterns=_HUB_PATTERNS))
    except Exception as exc:  # RepositoryNotFound, LocalEntryNotFound (offline), HTTP errors
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelLoadError(f"model {text!r} is not a local folder and could not be fetched from the Hub "
                             f"({type(exc).__name__}: {reason})") from None


def read_config(path: Path) -> dict:
    cfg = path / "config.json"
    if not cfg.is_file():
        raise ModelLoadError(f"{path} has no config.json: not a saved model (or an interrupted save)")
    try:
        return json.loads(cfg.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"{cfg}: unreadable ({exc})") from None


_plugins_loaded = False


def _load_plugins() -> None:
    """Import the registry's loader plugins on the first load, so every kind of saved model loads
    without its caller importing the method's package. A missing plugin is a bug, not skipped."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    import importlib

    from hfcompress.methods.registry import LOADER_PLUGINS

    for name in LOADER_PLUGINS:
        importlib.import_module(name)
    _plugins_loaded = True


def load(name_or_path: str | os.PathLike, task=None, revision: Optional[str] = None, **kwargs) -> LoadedModel:
    """Load any model hfcompress wrote (or any plain transformers model) for inference.

    ``task`` (a :class:`hfcompress.tasks.Task`), when given, picks the model head and checks
    that the model's labels fit the task.
    """
    _load_plugins()
    if task is not None and not hasattr(task, "check_model_labels"):  # a task name or a dataset description
        from hfcompress.tasks import get_task

        task = get_task(task)
    path = resolve_model_dir(name_or_path, revision)
    config = read_config(path)
    from hfcompress.hub.validate import check_folder

    check_folder(path, config)  # weight headers, config sizes and the record, before anything is built
    loader = matching_loader(path, config)
    if loader is not None:
        loaded = loader.load(path, task=task, source=str(name_or_path), **kwargs)
        if task is not None:
            task.check_model_labels(loaded.config)
        return loaded
    raise ModelLoadError(f"no loader recognises {path} (loaders: {', '.join(loaders())})")


# ---------------------------------------------------------------------------------------------
# The default loader: transformers PyTorch models, compressed or not
# ---------------------------------------------------------------------------------------------
def load_pytorch(path: Path, task=None, source: str = "", **kwargs) -> LoadedModel:
    """The default loader: a transformers PyTorch model, rebuilt from its record when compressed."""
    from transformers import AutoConfig

    from hfcompress.hub.rebuild import model_class, rebuild_skeleton, stages_to_rebuild

    if not any(path.glob("*.safetensors")):
        raise ModelLoadError(f"{path} has no .safetensors weights; hfcompress loads safetensors only "
                             "(re-save with save_pretrained(..., safe_serialization=True))")
    from hfcompress.hub.validate import check_folder, check_skeleton_fits, meta_skeleton

    shapes = check_folder(path, read_config(path))
    config = AutoConfig.from_pretrained(path)
    record = CompressionRecord.from_model_config(config)
    if task is not None:
        task.check_model_labels(config)
    rebuilds = stages_to_rebuild(record)
    cls = model_class(config, task)
    # the skeleton the config and record describe, on the meta device (no memory), against the stored shapes
    check_skeleton_fits(meta_skeleton(cls, config, rebuilds, shapes, path), shapes, path, strict=bool(rebuilds))
    if not rebuilds:
        model = cls.from_pretrained(path, config=config, use_safetensors=True, **kwargs)
    else:
        # Build the skeleton the record describes, then load the weights strictly into it.
        model = rebuild_skeleton(config, task, record)
        load_safetensors_strict(model, path)
    model.eval()
    preprocessor = task.load_preprocessor(str(path)) if task is not None else None
    return LoadedModel(model=model, config=config, path=path, source=source or str(path), loader="pytorch",
                       record=record, preprocessor=preprocessor)


def _to_model_names(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename checkpoint keys to the model's own names.

    transformers 5.x writes some families (ViT, ...) under their legacy checkpoint names
    (``vit.encoder.layer.0.attention.attention.query``) while the module tree uses new ones
    (``vit.layers.0.attention.q_proj``); ``save_pretrained`` maps on the way out, so the same
    mapping (renames only) is inverted here, matched through tensor identity."""
    from hfcompress.hub.validate import checkpoint_names

    own = model.state_dict()
    if not state or set(state) <= set(own):
        return state
    rename = {saved: name for name, saved in checkpoint_names(model, own).items()}
    return {rename.get(k, k): v for k, v in state.items()}


def load_safetensors_strict(model: torch.nn.Module, path: Path) -> None:
    from safetensors.torch import load_file

    state: dict[str, torch.Tensor] = {}
    for f in sorted(path.glob("*.safetensors")):
        try:
            state.update(load_file(str(f)))
        except Exception as exc:  # SafetensorError: corrupt despite a sane header
            raise ModelLoadError(f"{f}: unreadable safetensors ({str(exc).splitlines()[0][:200]})") from None
    state = _to_model_names(model, state)
    missing, unexpected = model.load_state_dict(state, strict=False)
    # Tied weights (e.g. decoder tied to embeddings) may legitimately be absent from the file.
    tied = set(getattr(model, "_tied_weights_keys", None) or [])
    missing = [k for k in missing if k not in tied]
    if missing or unexpected:
        raise ModelLoadError(f"weights in {path} do not fit the rebuilt model: missing {missing[:5]}, "
                             f"unexpected {unexpected[:5]}")


register_loader(Loader(name="pytorch", matches=lambda path, config: True, load=load_pytorch, priority=0))


class AutoCompressedModel:
    """``from_pretrained`` for any model hfcompress saved: returns the rebuilt model itself."""

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, task=None, **kwargs):
        if isinstance(task, str):
            from hfcompress.tasks import get_task

            task = get_task(task)
        return load(name_or_path, task=task, **kwargs).model

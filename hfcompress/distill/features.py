"""Intermediate features of a model, captured by forward hooks on modules named by path.

The same mechanism serves a BERT encoder (layer outputs, embeddings, pooler) and a ResNet
(stage outputs, pooler) without touching model code, in the manner of torchdistill's forward
hook manager. Attention maps are the exception: they exist only inside the attention function,
so they come from ``output_attentions=True`` (which needs the eager attention implementation).
"""

from __future__ import annotations

from typing import Iterable, Optional

import torch

from hfcompress.errors import ConfigError

# ModuleLists that hold a model's repeated blocks, by the end of their path.
LAYER_LIST_SUFFIXES = ("encoder.layer", "encoder.layers", "transformer.layer", "encoder.stages", "layers", "blocks")
EMBEDDING_SUFFIXES = ("embeddings", "embedder")
POOLER_SUFFIXES = ("pooler",)


def _first_tensor(output):
    """Blocks return a tensor (transformers 5.x) or a tuple whose first item is the hidden state (4.x)."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    if hasattr(output, "last_hidden_state"):
        return output.last_hidden_state
    if hasattr(output, "pooler_output"):
        return output.pooler_output
    raise TypeError(f"cannot take a feature tensor from a module output of type {type(output).__name__}")


def layer_list_path(model: torch.nn.Module) -> str:
    """Path of the ModuleList holding the model's blocks (``bert.encoder.layer``, ``resnet.encoder.stages``):
    the family adapter's, else the first ModuleList whose path ends like one."""
    from hfcompress.models.families import maybe_adapter

    adapter = maybe_adapter(model)
    if adapter is not None:
        return adapter.layer_list_path(model)
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and name.endswith(LAYER_LIST_SUFFIXES):
            return name
    raise ConfigError(f"{type(model).__name__}: no block list found (looked for modules ending in "
                      f"{', '.join(LAYER_LIST_SUFFIXES)}); give module paths explicitly")


def num_layers(model: torch.nn.Module) -> int:
    return len(model.get_submodule(layer_list_path(model)))


def layer_paths(model: torch.nn.Module) -> list[str]:
    base = layer_list_path(model)
    return [f"{base}.{i}" for i in range(num_layers(model))]


def _find_suffix(model: torch.nn.Module, suffixes: tuple[str, ...], what: str) -> str:
    for name, _ in model.named_modules():
        if name.split(".")[-1] in suffixes and name.count(".") <= 1:
            return name
    raise ConfigError(f"{type(model).__name__}: no {what} module found (looked for {', '.join(suffixes)}); "
                      "give its module path explicitly")


def embedding_path(model: torch.nn.Module) -> str:
    return _find_suffix(model, EMBEDDING_SUFFIXES, "embedding")


def pooler_path(model: torch.nn.Module) -> str:
    return _find_suffix(model, POOLER_SUFFIXES, "pooler")


def check_paths(model: torch.nn.Module, paths: Iterable[str], where: str) -> None:
    names = dict(model.named_modules())
    for path in paths:
        if path not in names:
            raise ConfigError(f"{where}: {type(model).__name__} has no module {path!r}")


class FeatureRecorder:
    """Keeps the latest output of each named module; ``features[path]`` after a forward pass.

    Hooks stay registered for the life of the recorder (call :meth:`remove` to drop them), so a
    model wrapped later by DDP or accelerate still reports its features.
    """

    def __init__(self, model: torch.nn.Module, paths: Iterable[str]):
        self.paths = list(dict.fromkeys(paths))
        check_paths(model, self.paths, "feature recorder")
        self.features: dict[str, torch.Tensor] = {}
        self._handles = [model.get_submodule(p).register_forward_hook(self._hook(p)) for p in self.paths]

    def _hook(self, path: str):
        def hook(module, inputs, output):
            self.features[path] = _first_tensor(output)

        return hook

    def get(self, path: str) -> torch.Tensor:
        if path not in self.features:
            raise RuntimeError(f"module {path!r} did not run in the last forward pass")
        return self.features[path]

    def clear(self) -> None:
        self.features.clear()

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self.features.clear()


def use_eager_attention(model: torch.nn.Module, implementation: str = "eager") -> Optional[str]:
    """Make ``output_attentions=True`` return attention maps; return the implementation it replaced.

    transformers 5.x returns none under SDPA; it switches at runtime with
    ``set_attn_implementation``. transformers 4.x BERT cannot switch, but its SDPA class falls
    back to the eager computation by itself whenever attentions are requested. Call again with
    the returned name to switch back (eager attention is slower: keep it out of timings).
    """
    setter = getattr(model, "set_attn_implementation", None)
    if setter is None or not getattr(model, "_supports_attention_backend", False):
        return None
    before = getattr(model.config, "_attn_implementation", None)
    try:
        setter(implementation)
    except (ValueError, NotImplementedError, AttributeError, TypeError):
        return None
    return before


def attention_heads(model: torch.nn.Module) -> Optional[int]:
    return getattr(model.config, "num_attention_heads", None)

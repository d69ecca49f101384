"""Pruning: attention heads, FFN neurons, conv channels, whole layers / residual blocks (all physically
removed) and unstructured magnitude pruning (one-shot or gradual). Every result saves as safetensors +
record and reloads through ``hfcompress.load``."""

from hfcompress.prune.config import PruneConfig, PruneError

__all__ = ["PruneConfig", "PruneError", "frozen_copy", "prune", "prune_in_memory", "prune_model", "recover",
           "save_pruned"]


def __getattr__(name):  # keep ``import hfcompress.prune`` light (no Trainer import)
    if name in ("frozen_copy", "prune", "prune_in_memory", "prune_model", "recover", "save_pruned"):
        from hfcompress.prune import api

        return getattr(api, name)
    raise AttributeError(name)


from hfcompress.methods.contract import callable_family  # noqa: E402

callable_family(__name__, "prune")  # hfcompress.prune(cfg) runs the prune runner

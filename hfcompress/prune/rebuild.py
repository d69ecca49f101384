"""Loader plugin: reshape a freshly built skeleton to a pruned model's saved shapes.

Imported by ``hfcompress.hub.load`` on the first load. Each pruning stage stores in its
record ``result`` exactly what is needed here (kept heads, FFN widths, module shapes, storage);
the weights then load strictly from safetensors into the reshaped skeleton. No pickle.
"""

from __future__ import annotations

from torch import nn

from hfcompress.hub.load import register_rebuild
from hfcompress.hub.record import Stage
from hfcompress.prune.heads import keep_heads
from hfcompress.prune.structured import keep_neurons, rebuild_modules
from hfcompress.prune.unstructured import unpack_state_dict


@register_rebuild("prune_heads")
def rebuild_heads(model: nn.Module, stage: Stage) -> None:
    # Indices are relative to the layer's heads before this stage; the skeleton has them all.
    keep_heads(model, stage.result["kept_heads"])


@register_rebuild("prune_ffn")
def rebuild_ffn(model: nn.Module, stage: Stage) -> None:
    keep_neurons(model, [range(w) for w in stage.result["ffn_widths"]])


@register_rebuild("prune_channels")
def rebuild_channels(model: nn.Module, stage: Stage) -> None:
    rebuild_modules(model, stage.result["module_shapes"])


@register_rebuild("prune_unstructured")
def rebuild_unstructured(model: nn.Module, stage: Stage) -> None:
    """Shapes are unchanged; packed weights (bitmask + values) are unpacked as the state dict loads."""
    if stage.result.get("storage") != "packed":
        return

    def unpack(state_dict, prefix, *args):
        unpack_state_dict(state_dict)

    model._register_load_state_dict_pre_hook(unpack)

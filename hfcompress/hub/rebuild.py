"""The one skeleton rebuild every loader uses: a fresh model reshaped to what the record says.

Like transformers' quantizers (``_process_model_before_weight_loading``), a compressed model is
rebuilt before its weights load: the architecture from ``config.json``, then each recorded stage
whose method changes shapes (pruned heads, FFN widths, channels; packed unstructured weights)
reshapes the skeleton, and the weights then load strictly into it. The stage -> strategy lookup goes
through the method registry, so a new method needs no change here.
"""

from __future__ import annotations

from typing import Optional

import torch

from hfcompress.errors import ModelLoadError
from hfcompress.hub.record import CompressionRecord, Stage


def model_class(config, task=None):
    """The class to build: the task's head, else the architecture ``config.json`` names."""
    if task is not None:
        return task.model_class
    import transformers

    archs = getattr(config, "architectures", None) or []
    for arch in archs:
        cls = getattr(transformers, arch, None)
        if cls is not None:
            return cls
    raise ModelLoadError(f"config.json names no known architecture ({archs}); pass a task to pick the head")


def stages_to_rebuild(record: Optional[CompressionRecord], until: Optional[Stage] = None) -> list[Stage]:
    """The stages (before ``until``, if given) whose strategy reshapes a skeleton."""
    from hfcompress.methods.registry import known_stages, rebuilder

    out = []
    for stage in (record.stages if record else []):
        if stage is until:
            break
        if stage.method not in known_stages():
            raise ModelLoadError(f"config.json: the record's stage {stage.method!r} is not a method this "
                                 "hfcompress knows; upgrade hfcompress or check the file")
        if rebuilder(stage.method) is not None:
            out.append(stage)
    return out


def rebuild_skeleton(config, task=None, record: Optional[CompressionRecord] = None,
                     until: Optional[Stage] = None) -> torch.nn.Module:
    """A freshly initialised model of ``config``'s architecture, reshaped by the record's stages
    (those before ``until``); its weights are then loaded by the caller."""
    from hfcompress.methods.registry import rebuilder

    cls = model_class(config, task)
    # Auto classes build from a config with from_config, concrete classes with their constructor
    model = cls.from_config(config) if hasattr(cls, "from_config") else cls(config)
    for stage in stages_to_rebuild(record, until):
        rebuilder(stage.method).rebuild(model, stage)
    return model

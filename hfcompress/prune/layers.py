"""Layer dropping: remove whole transformer layers (BERT family) or residual blocks (ResNet).

Hand-written, because no maintained library does this for transformers models: torch-pruning
removes channels, not layers, and transformers has no API for it. It is small: a layer is
removed by replacing its container (``encoder.layer``, an ``nn.ModuleList``; a ResNet stage's
``layers``, an ``nn.Sequential``) with one that lacks it, so the remaining layers are renumbered
0..n-1 in the state dict, and the config's depth is updated (``num_hidden_layers`` and per-layer
lists such as ``layer_types``; ResNet ``depths``). ``config.json`` alone then describes the
reduced model, so the default loader builds it and loads the weights without a rebuild function.

Units are numbered in forward order: BERT layers 0..L-1; ResNet blocks across stages (stage 0's
blocks first). Only blocks whose shortcut is the identity can go: a block with a projection
shortcut changes the shape (channels or stride), and each stage keeps at least one block.

Importance (for ``amount`` / ``count``) is measured, not guessed: the mean loss on the scoring
batches with each unit skipped, one at a time, minus the loss of the full model (the
"drop one layer and look" criterion of Sajjad et al. 2023, "On the effect of dropping layers of
pre-trained transformer models"). The units whose removal costs least go first.
"""

from __future__ import annotations

import contextlib
from typing import Iterable, Iterator, Optional, Sequence

import torch
from torch import nn

from hfcompress.prune.config import PruneError

# config attributes that hold one entry per transformer layer (transformers 5.x configs may have them)
PER_LAYER_CONFIG_KEYS = ("layer_types",)
# earlier stages whose record indexes layers by their original position (their rebuilds would
# be applied to the reduced skeleton on load), so layers cannot be dropped after them
PER_LAYER_STAGES = ("prune_heads", "prune_ffn", "prune_channels")


def _adapter(model: nn.Module):
    from hfcompress.models.families import UnsupportedFamilyError, adapter_for

    try:
        return adapter_for(model, "drop_layers")
    except UnsupportedFamilyError as exc:
        raise PruneError(str(exc)) from None


def _containers(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """(parent module, attribute) of each container of droppable units, in forward order."""
    return _adapter(model).containers(model)


def units(model: nn.Module) -> list[tuple[int, int]]:
    """(container index, position) of every layer/block, in the flat numbering ``drop`` uses."""
    return [(g, i) for g, (parent, attr) in enumerate(_containers(model)) for i in range(len(getattr(parent, attr)))]


def removable(model: nn.Module) -> list[bool]:
    """Whether each unit keeps its input's shape (BERT layers always; ResNet blocks with an identity shortcut)."""
    out = []
    for parent, attr in _containers(model):
        for block in getattr(parent, attr):
            shortcut = getattr(block, "shortcut", None)
            out.append(shortcut is None or isinstance(shortcut, nn.Identity))
    if out and _adapter(model).keeps_first_layer:
        out[0] = False
    return out


def _kind(model: nn.Module) -> str:
    return "blocks" if _adapter(model).staged else "layers"


def check_drop(model: nn.Module, drop: Sequence[int], field: str = "prune.drop") -> None:
    """Raise a PruneError naming ``field`` unless removing ``drop`` leaves a valid model."""
    flat, ok = units(model), removable(model)
    kind = _kind(model)
    for i in drop:
        if not 0 <= i < len(flat):
            raise PruneError(f"{field}: index {i} is out of range (the model has {len(flat)} {kind}, "
                             f"0..{len(flat) - 1})")
        if not ok[i] and _adapter(model).keeps_first_layer:
            raise PruneError(f"{field}: {_adapter(model).name}'s layer 0 has no attention norm of its own (the "
                             "embeddings' norm serves) and cannot be removed; removable layers: "
                             f"{[j for j, r in enumerate(ok) if r]}")
        if not ok[i]:
            raise PruneError(f"{field}: block {i} (stage {flat[i][0]}, block {flat[i][1]}) changes the shape "
                             f"(projection shortcut) and cannot be removed; removable blocks: "
                             f"{[j for j, r in enumerate(ok) if r]}")
    if len(set(drop)) >= len(flat):
        raise PruneError(f"{field}: cannot remove all {len(flat)} {kind}")
    for g, (parent, attr) in enumerate(_containers(model)):
        if all(i in set(drop) for i, (gi, _) in enumerate(flat) if gi == g):
            raise PruneError(f"{field}: every block of stage {g} would be removed; each stage keeps at least one")


def _reduced(model: nn.Module, drop: Iterable[int]) -> list[nn.Module]:
    """New containers without units ``drop`` (same module objects, renumbered from 0)."""
    drop, out, flat = set(drop), [], 0
    for parent, attr in _containers(model):
        container = getattr(parent, attr)
        kept = [m for i, m in enumerate(container) if flat + i not in drop]
        flat += len(container)
        out.append(nn.ModuleList(kept) if isinstance(container, nn.ModuleList) else nn.Sequential(*kept))
    return out


@contextlib.contextmanager
def skipped(model: nn.Module, drop: Iterable[int]) -> Iterator[None]:
    """Run ``model`` without units ``drop`` (the containers are swapped, and restored after)."""
    places = _containers(model)
    saved = [getattr(parent, attr) for parent, attr in places]
    for (parent, attr), container in zip(places, _reduced(model, drop)):
        setattr(parent, attr, container)
    try:
        yield
    finally:
        for (parent, attr), container in zip(places, saved):
            setattr(parent, attr, container)


def _mean_loss(model: nn.Module, batches: Sequence[dict]) -> float:
    return float(sum(model(**b).loss.float() for b in batches) / len(batches))


def skip_importance(model: nn.Module, batches: Sequence[dict]) -> tuple[float, list[Optional[float]]]:
    """(loss of the full model, loss increase with each unit skipped); None for units that cannot go."""
    if not batches:
        raise PruneError("prune.score_samples: layer importance needs data, but no scoring batches were made")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            base = _mean_loss(model, batches)
            scores: list[Optional[float]] = []
            for i, ok in enumerate(removable(model)):
                if not ok:
                    scores.append(None)
                    continue
                with skipped(model, [i]):
                    scores.append(_mean_loss(model, batches) - base)
    finally:
        model.train(was_training)
    return base, scores


def choose(model: nn.Module, scores: Sequence[Optional[float]], n: int, field: str) -> list[int]:
    """The ``n`` removable units with the lowest scores, never emptying a stage or the model."""
    flat = units(model)
    if n >= len(flat):
        raise PruneError(f"{field}: cannot remove all {len(flat)} {_kind(model)} (asked for {n})")
    left = {g: sum(1 for gi, _ in flat if gi == g) for g, _ in flat}
    out: list[int] = []
    for i in sorted((i for i, s in enumerate(scores) if s is not None), key=lambda i: (scores[i], i)):
        if len(out) == n:
            break
        if left[flat[i][0]] > 1:
            out.append(i)
            left[flat[i][0]] -= 1
    if len(out) < n:
        raise PruneError(f"{field}: only {len(out)} of the {len(flat)} {_kind(model)} can be removed (blocks with a "
                         f"projection shortcut and the last block of a stage stay), asked for {n}")
    return sorted(out)


def drop_units(model: nn.Module, drop: Sequence[int]) -> dict:
    """Remove units ``drop`` in place, renumber the rest and update the config; return the new depth."""
    check_drop(model, drop)
    reduced = _reduced(model, drop)
    for (parent, attr), container in zip(_containers(model), reduced):
        setattr(parent, attr, container)
    config, adapter = model.config, _adapter(model)
    if adapter.staged:
        before = list(config.depths)
        adapter.set_depth(config, [len(c) for c in reduced])
        return {"depths_before": before, "depths": list(config.depths)}
    before = adapter.depth(config)
    kept = [i for i in range(before) if i not in set(drop)]
    for new_index, layer in enumerate(reduced[0]):
        for module in layer.modules():  # transformers 5.x layers know their index (for caches)
            if isinstance(getattr(module, "layer_idx", None), int):
                module.layer_idx = new_index
    adapter.set_depth(config, kept)
    return {"num_hidden_layers_before": before, "num_hidden_layers": adapter.depth(config)}


def check_history(record) -> None:
    """Refuse to drop layers after a stage whose record indexes layers by their original position."""
    earlier = [s.method for s in (record.stages if record else []) if s.method in PER_LAYER_STAGES]
    if earlier:
        raise PruneError(f"prune.method: drop_layers cannot follow {earlier[0]} (its record indexes the original "
                         "layers, so the model would not reload); drop layers first, then prune heads/FFN/channels")

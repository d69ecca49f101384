"""Unstructured magnitude pruning: one-shot or gradual (Zhu & Gupta 2017), plus packed storage.

Masks are kept by hand instead of ``torch.nn.utils.prune``: its reparametrisation renames every
weight to ``weight_orig`` + ``weight_mask``, which the Trainer would checkpoint and
``save_pretrained`` would save under foreign names. Here the masked weights are simply zero:
after each optimizer step the callback multiplies weights by their fixed mask again (so Adam's
momentum cannot revive them), and at the end the masks are already folded into the weights.

A zero weight still costs 4 bytes in a dense tensor and a dense matmul does the same work, so
unstructured sparsity saves nothing unless stored sparse, and gives no speedup with dense kernels.
``pack_state_dict`` stores each pruned matrix as a bitmask (1 bit per weight) plus its non-zero
values, in ordinary safetensors, so the size on disk follows the sparsity; the loader unpacks it.
"""

from __future__ import annotations

from typing import Iterable, Optional

import numpy as np
import torch
from torch import nn
from transformers import TrainerCallback

from hfcompress.prune.config import PruneError

MASK_SUFFIX = ".__hfc_bitmask"
VALUES_SUFFIX = ".__hfc_values"


def prunable_weights(model: nn.Module, exclude: Iterable[str] = ("classifier",)) -> dict[str, nn.Parameter]:
    """Weight matrices of Linear and Conv2d layers, minus the task head (pruning it hurts most and saves
    almost nothing). Embeddings are left dense as in Zhu & Gupta's transformer experiments."""
    out = {}
    for name, module in model.named_modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)) and not any(part in name.split(".") for part in exclude):
            out[f"{name}.weight"] = module.weight
    return out


def magnitude_masks(weights: dict[str, torch.Tensor], sparsity: float, scope: str = "global") -> dict[str, torch.Tensor]:
    """Boolean keep-masks zeroing exactly ``round(sparsity * n)`` smallest-magnitude weights
    (over all weights together, or in each tensor for ``scope='layer'``). Ties are broken by
    position, so the count is exact even when many weights are already zero."""
    if not 0 <= sparsity < 1:
        raise PruneError(f"prune.amount: sparsity must be in [0, 1), got {sparsity}")
    if scope == "layer":
        return {name: _keep_mask(w.detach().abs().flatten(), sparsity).view_as(w) for name, w in weights.items()}
    flat = torch.cat([w.detach().abs().flatten() for w in weights.values()])
    keep = _keep_mask(flat, sparsity)
    masks, start = {}, 0
    for name, w in weights.items():
        masks[name] = keep[start:start + w.numel()].view_as(w)
        start += w.numel()
    return masks


def _keep_mask(scores: torch.Tensor, sparsity: float) -> torch.Tensor:
    n_prune = round(sparsity * scores.numel())
    keep = torch.ones(scores.numel(), dtype=torch.bool)
    if n_prune:
        keep[torch.argsort(scores, stable=True)[:n_prune]] = False
    return keep


@torch.no_grad()
def apply_masks(weights: dict[str, torch.Tensor], masks: dict[str, torch.Tensor]) -> None:
    for name, w in weights.items():
        w.mul_(masks[name].to(w.dtype))


def sparsity_of(weights: dict[str, torch.Tensor]) -> float:
    total = sum(w.numel() for w in weights.values())
    zeros = sum(int((w == 0).sum()) for w in weights.values())
    return zeros / total if total else 0.0


def prune_oneshot(model: nn.Module, sparsity: float, scope: str = "global") -> dict[str, torch.Tensor]:
    weights = prunable_weights(model)
    masks = magnitude_masks(weights, sparsity, scope)
    apply_masks(weights, masks)
    return masks


# ---------------------------------------------------------------------------------------------
# Gradual pruning on a schedule
# ---------------------------------------------------------------------------------------------
def cubic_sparsity(step: int, final: float, initial: float, start_step: int, end_step: int) -> float:
    """Zhu & Gupta (2017): s_t = s_f + (s_i - s_f) (1 - (t - t0) / (t_end - t0))^3, clamped to [t0, t_end]."""
    if step >= end_step:  # first: a one-shot schedule (start == end) is at its target at once
        return final
    if step <= start_step:
        return initial if step == start_step else 0.0
    progress = (step - start_step) / (end_step - start_step)
    return final + (initial - final) * (1.0 - progress) ** 3


def update_steps(start_step: int, end_step: int, n_updates: int) -> list[int]:
    """The steps at which masks are recomputed: evenly spaced, always including start and end."""
    if end_step <= start_step:
        return [end_step]
    points = {start_step + round(i * (end_step - start_step) / n_updates) for i in range(n_updates + 1)}
    return sorted(points)


class GradualPruningCallback(TrainerCallback):
    """Prune to a target sparsity on the cubic schedule while the Trainer fine-tunes.

    At each update step the masks are recomputed from the current weight magnitudes at the
    scheduled sparsity; between updates the masks stay fixed and are re-applied after every
    optimizer step. The last update (``end_step``) reaches the target exactly.
    """

    def __init__(self, model: nn.Module, final_sparsity: float, start_step: int, end_step: int,
                 n_updates: int = 10, initial_sparsity: float = 0.0, scope: str = "global"):
        if not 0 <= final_sparsity < 1:
            raise PruneError(f"prune.amount: sparsity must be in [0, 1), got {final_sparsity}")
        self.weights = prunable_weights(model)
        self.final, self.initial, self.scope = final_sparsity, initial_sparsity, scope
        self.start_step, self.end_step = start_step, end_step
        self.updates = set(update_steps(start_step, end_step, n_updates))
        self.masks: Optional[dict[str, torch.Tensor]] = None
        self.history: list[tuple[int, float]] = []  # (step, sparsity actually reached)

    def sparsity_at(self, step: int) -> float:
        return cubic_sparsity(step, self.final, self.initial, self.start_step, self.end_step)

    def _update(self, step: int) -> None:
        target = self.sparsity_at(step)
        self.masks = magnitude_masks(self.weights, target, self.scope)
        apply_masks(self.weights, self.masks)
        self.history.append((step, sparsity_of(self.weights)))

    def on_train_begin(self, args, state, control, **kwargs):
        if 0 in self.updates:
            self._update(0)

    def on_step_end(self, args, state, control, **kwargs):
        step = state.global_step
        if step in self.updates:
            self._update(step)
        elif self.masks is not None:
            apply_masks(self.weights, self.masks)

    def on_train_end(self, args, state, control, **kwargs):
        # Training shorter than the schedule still ends at the target (and with folded masks).
        if self.end_step > state.global_step:
            self._update(self.end_step)


# ---------------------------------------------------------------------------------------------
# Packed storage: bitmask + non-zero values, in safetensors
# ---------------------------------------------------------------------------------------------
def pack_state_dict(state: dict[str, torch.Tensor], names: Iterable[str]) -> dict[str, torch.Tensor]:
    """Replace each tensor in ``names`` by a packed bitmask (uint8) and its non-zero values."""
    out = dict(state)
    for name in names:
        w = out.pop(name).detach().contiguous()
        nz = w.flatten() != 0
        out[name + MASK_SUFFIX] = torch.from_numpy(np.packbits(nz.numpy().astype(np.uint8)))
        out[name + VALUES_SUFFIX] = w.flatten()[nz].clone()
        out[name + ".__hfc_shape"] = torch.tensor(list(w.shape), dtype=torch.int64)
    return out


def unpack_state_dict(state: dict[str, torch.Tensor]) -> None:
    """In place: turn packed entries back into dense tensors (inverse of ``pack_state_dict``)."""
    for key in [k for k in state if k.endswith(MASK_SUFFIX)]:
        name = key[: -len(MASK_SUFFIX)]
        shape = state.pop(name + ".__hfc_shape").tolist()
        numel = int(np.prod(shape))
        bits = np.unpackbits(state.pop(key).numpy(), count=numel).astype(bool)
        values = state.pop(name + VALUES_SUFFIX)
        dense = torch.zeros(numel, dtype=values.dtype)
        dense[torch.from_numpy(bits)] = values
        state[name] = dense.view(shape)

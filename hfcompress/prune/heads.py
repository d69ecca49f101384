"""Attention-head pruning for BERT-family encoders: score heads, then slice them out.

transformers 5.x removed ``prune_heads``/``head_mask``, so this is hfcompress's own code and works
on 4.57 and 5.x alike: it only touches the Q/K/V/output ``nn.Linear`` modules and the two shape
attributes (``num_attention_heads``, ``all_head_size``) every BERT-style self-attention reads.

Head masks (for importance scores and for the slicing-equals-masking test) are applied by a
forward pre-hook on the attention output projection: zeroing a head's slice of the context is
exactly what ``head_mask`` on the attention probabilities did, and the hook works on every
attention implementation (eager, sdpa) because it acts after them.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Iterable, Iterator, Optional, Sequence

import torch
from torch import nn

from hfcompress.prune.config import PruneError, check_not_quantized


# ---------------------------------------------------------------------------------------------
# Finding the layers (through the model family's adapter)
# ---------------------------------------------------------------------------------------------
def _adapter(model: nn.Module, method: str = "heads"):
    from hfcompress.models.families import UnsupportedFamilyError, adapter_for

    try:
        adapter = adapter_for(model, method)
    except UnsupportedFamilyError as exc:
        raise PruneError(str(exc)) from None
    return adapter


def encoder_layers(model: nn.Module, method: str = "heads") -> list[nn.Module]:
    """The transformer blocks of the model (their distinct modules: one per ALBERT layer group)."""
    adapter = _adapter(model, method)
    check_not_quantized(model, use_record=False)  # the modules: rebuilding a skeleton goes through here
    return adapter.layers(model)


def head_size(model: nn.Module) -> int:
    return _adapter(model).head_size(model)


def _count(model: nn.Module, attn) -> int:
    if not attn.qkv:
        return 0
    return getattr(attn.module, attn.qkv[0]).out_features // (len(attn.qkv) == 1 and 3 or 1) // head_size(model)


def heads_per_layer(model: nn.Module) -> list[int]:
    """Current number of heads in each layer (0 for a layer whose heads were all removed)."""
    adapter = _adapter(model)
    return [_count(model, adapter.attention(layer)) for layer in encoder_layers(model)]


class NoHeadsSelfAttention(nn.Module):
    """Self-attention of a layer with every head removed: an empty context.

    The output projection then has 0 input features and adds only its bias, so the block
    reduces to ``LayerNorm(hidden + bias)``: exactly what masking all of its heads gave.
    """

    num_attention_heads = 0
    all_head_size = 0

    def forward(self, hidden_states: torch.Tensor, *args, **kwargs):
        return hidden_states.new_zeros(*hidden_states.shape[:-1], 0), None


# ---------------------------------------------------------------------------------------------
# Slicing
# ---------------------------------------------------------------------------------------------
def slice_linear(linear: nn.Linear, index: torch.Tensor, dim: int) -> nn.Linear:
    """A new Linear keeping rows (``dim=0``: output features) or columns (``dim=1``) ``index``."""
    index = index.to(linear.weight.device)
    weight = linear.weight.detach().index_select(dim, index).clone()
    bias = None
    if linear.bias is not None:
        bias = linear.bias.detach()[index].clone() if dim == 0 else linear.bias.detach().clone()
    with warnings.catch_warnings():  # a layer left with no heads has a 0-column projection: fine
        warnings.filterwarnings("ignore", message="Initializing zero-element tensors")
        new = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None,
                        device=weight.device, dtype=weight.dtype)
    new.weight = nn.Parameter(weight, requires_grad=linear.weight.requires_grad)
    if bias is not None:
        new.bias = nn.Parameter(bias, requires_grad=linear.bias.requires_grad)
    return new


def keep_heads(model: nn.Module, kept: Sequence[Sequence[int]]) -> None:
    """Physically keep only heads ``kept[i]`` (indices into the layer's *current* heads) in layer i."""
    adapter = _adapter(model)
    d = head_size(model)
    for layer, keep in zip(encoder_layers(model), kept):
        attn = adapter.attention(layer)
        current = _count(model, attn)
        keep = sorted(set(int(h) for h in keep))
        if keep == list(range(current)):
            continue
        idx = torch.tensor([h * d + j for h in keep for j in range(d)], dtype=torch.long)
        setattr(attn.out_parent, attn.out_name, slice_linear(attn.out, idx, dim=1))
        if not keep:
            adapter.empty_attention(layer)
            continue
        if len(attn.qkv) == 1:  # fused Q|K|V rows
            fused = torch.cat([idx + part * current * d for part in range(3)])
            setattr(attn.module, attn.qkv[0], slice_linear(getattr(attn.module, attn.qkv[0]), fused, dim=0))
        else:
            for name in attn.qkv:
                setattr(attn.module, name, slice_linear(getattr(attn.module, name), idx, dim=0))
        for name in attn.count_attrs:
            setattr(attn.module, name, len(keep))
        for name in attn.size_attrs:
            setattr(attn.module, name, len(keep) * d)
        adapter.after_heads(layer, keep)


# ---------------------------------------------------------------------------------------------
# Masks and importance
# ---------------------------------------------------------------------------------------------
@contextlib.contextmanager
def head_masks(model: nn.Module, masks: Sequence[torch.Tensor]) -> Iterator[None]:
    """Multiply each head's context by ``masks[layer][head]`` while the block runs."""
    d = head_size(model)
    adapter = _adapter(model)
    handles = []
    for layer, mask in zip(encoder_layers(model), masks):
        if mask.numel() == 0:
            continue

        def hook(module, args, mask=mask):
            context = args[0]
            shaped = context.view(*context.shape[:-1], mask.numel(), d) * mask.view(-1, 1)
            return (shaped.view(context.shape), *args[1:])

        handles.append(adapter.attention(layer).out.register_forward_pre_hook(hook))
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def gradient_importance(model: nn.Module, batches: Iterable[dict], counts: Sequence[int],
                        mask_fn) -> list[torch.Tensor]:
    """Mean |dL/dmask| per unit over ``batches`` (Michel et al. 2019 for heads; for neurons this is
    the first-order Taylor score |sum activation * gradient|).

    ``mask_fn(model, masks)`` is a context manager applying the masks (heads or neurons).
    Parameters are frozen for the pass so only the masks collect gradients.
    """
    masks = [torch.ones(n, requires_grad=True) for n in counts]
    scores = [torch.zeros(n) for n in counts]
    was_training = model.training
    requires = {p: p.requires_grad for p in model.parameters()}
    model.eval()  # no dropout: scores should not depend on noise
    for p in model.parameters():
        p.requires_grad_(False)
    n_batches = 0
    try:
        with mask_fn(model, masks):
            for batch in batches:
                out = model(**batch)
                out.loss.backward()
                for m, s in zip(masks, scores):
                    if m.grad is not None:
                        s += m.grad.abs()
                        m.grad = None
                n_batches += 1
    finally:
        for p, r in requires.items():
            p.requires_grad_(r)
        model.train(was_training)
    if n_batches == 0:
        raise PruneError("no data to score importance on (score_samples produced no batches)")
    return [s / n_batches for s in scores]


def head_importance(model: nn.Module, kind: str, batches: Optional[Iterable[dict]] = None) -> list[torch.Tensor]:
    """Per-layer head scores; higher = more important.

    ``gradient``: Michel et al. (2019), |dL/dmask_h| averaged over data, L2-normalised per layer
    as in the paper (so layers are comparable for global ranking). ``magnitude``: L2 norm of the
    head's Q, K, V rows and output-projection columns (no data; a cheap proxy).
    """
    counts = heads_per_layer(model)
    if kind == "gradient":
        if batches is None:
            raise PruneError("gradient head importance needs data batches")
        scores = gradient_importance(model, batches, counts, head_masks)
        return [s / (s.norm() + 1e-12) if s.numel() else s for s in scores]
    d = head_size(model)
    adapter = _adapter(model)
    out = []
    for layer, n in zip(encoder_layers(model), counts):
        if n == 0:
            out.append(torch.zeros(0))
            continue
        attn = adapter.attention(layer)
        weights = [getattr(attn.module, k).weight.detach() for k in attn.qkv]
        if len(weights) == 1:  # fused Q|K|V
            weights = list(weights[0].chunk(3, dim=0))
        sq = sum(w.pow(2).view(n, d, -1).sum(dim=(1, 2)) for w in weights)
        sq = sq + attn.out.weight.detach().pow(2).view(-1, n, d).sum(dim=(0, 2))
        out.append(sq.sqrt())
    return out


# ---------------------------------------------------------------------------------------------
# Choosing what to remove
# ---------------------------------------------------------------------------------------------
def heads_to_remove(counts: Sequence[int], scores: Optional[Sequence[torch.Tensor]] = None, *,
                    count: Optional[int] = None, amount: Optional[float] = None,
                    layers: Optional[dict[int, list[int]]] = None, scope: str = "global",
                    min_keep: int = 0) -> list[list[int]]:
    """Per-layer head indices to remove, from a global count, a fraction or an explicit spec.

    Everything is checked against the model here, before any weight changes or any file is written.
    """
    total = sum(counts)
    if layers is not None:
        out: list[list[int]] = [[] for _ in counts]
        for layer, heads in layers.items():
            if not 0 <= layer < len(counts):
                raise PruneError(f"prune.layers: layer index {layer} is out of range (the model has "
                                 f"{len(counts)} layers, 0..{len(counts) - 1})")
            bad = [h for h in heads if not 0 <= h < counts[layer]]
            if bad:
                raise PruneError(f"prune.layers.{layer}: head index {bad[0]} is out of range (layer {layer} has "
                                 f"{counts[layer]} heads)")
            out[layer] = sorted(set(heads))
            if min_keep and counts[layer] - len(out[layer]) < min_keep:
                raise PruneError(f"prune.layers.{layer}: removes every head of layer {layer}; this model family "
                                 "keeps at least one head per layer")
        if total and sum(len(r) for r in out) == total:
            raise PruneError(f"prune.layers: removes every attention head of the model ({total}); its output would "
                             "no longer depend on the input. Keep at least one head")
        return out
    assert scores is not None
    if count is not None:
        if count > total:
            raise PruneError(f"prune.count: cannot remove {count} heads, the model has only {total}")
        if total and count == total:
            raise PruneError(f"prune.count: {count} removes every attention head of the model ({total}); its output "
                             "would no longer depend on the input. Keep at least one head")
    elif amount is not None:
        if not 0 <= amount <= 1:  # (also false for nan)
            raise PruneError(f"prune.amount: must be in [0, 1], got {amount}")
        count = round(amount * total)
        if total and count == total:
            raise PruneError(f"prune.amount: {amount} removes every attention head of the model ({total}); its "
                             f"output would no longer depend on the input. Use at most {(total - 1) / total:.3g}")
    else:
        raise PruneError("prune: give count, amount or layers")
    if scope == "layer":
        # the same fraction of each layer (the count is spread in proportion to layer size)
        frac = count / total if total else 0.0
        return [sorted(torch.argsort(s)[:min(round(frac * n), n - min_keep)].tolist()) for s, n in zip(scores, counts)]
    flat = [(float(s[h]), li, h) for li, s in enumerate(scores) for h in range(len(s))]
    flat.sort()
    out = [[] for _ in counts]
    taken = 0
    for _, li, h in flat:
        if taken == count:
            break
        if counts[li] - len(out[li]) <= min_keep:
            continue
        out[li].append(h)
        taken += 1
    if taken < count:
        raise PruneError(f"prune: can remove at most {taken} heads (this model family keeps at least {min_keep} "
                         f"per layer), asked for {count}")
    return [sorted(x) for x in out]


def min_heads(model: nn.Module) -> int:
    """Heads each layer must keep: 0 where a layer's attention can be removed whole, else 1."""
    return 0 if _adapter(model).can_empty_attention() else 1


def prune_heads(model: nn.Module, remove: Sequence[Sequence[int]]) -> list[list[int]]:
    """Remove heads ``remove[i]`` from layer i; return the kept original indices per layer."""
    counts = heads_per_layer(model)
    kept = [[h for h in range(n) if h not in set(r)] for n, r in zip(counts, remove)]
    keep_heads(model, kept)
    return kept

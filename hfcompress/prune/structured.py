"""Structured pruning: FFN intermediate neurons (BERT family) and convolution channels (ResNet).

FFN neurons have a trivial dependency (rows of ``intermediate.dense``, columns of
``output.dense``), so they are sliced directly with the same helper as heads. Convolution
channels are coupled across residual connections and batch norms, so they go through
torch-pruning's DependencyGraph/MetaPruner, which removes every coupled slice together.
What torch-pruning does not give for HF models is a pickle-free save: we record each pruned
module's new shape and rebuild those modules from the record at load time (see ``rebuild.py``).
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence

import torch
from torch import nn

from hfcompress.prune.config import PruneError, check_not_quantized
from hfcompress.prune.heads import encoder_layers, gradient_importance, slice_linear


# ---------------------------------------------------------------------------------------------
# FFN neurons
# ---------------------------------------------------------------------------------------------
def _ffns(model: nn.Module):
    from hfcompress.prune.heads import _adapter

    adapter = _adapter(model, "ffn")
    return [adapter.ffn(layer) for layer in encoder_layers(model, "ffn")]


def ffn_widths(model: nn.Module) -> list[int]:
    return [f.width for f in _ffns(model)]


@contextlib.contextmanager
def ffn_masks(model: nn.Module, masks: Sequence[torch.Tensor]) -> Iterator[None]:
    """Multiply each intermediate neuron's activation by ``masks[layer][neuron]`` (on the input of the
    FFN's output projection, which works for plain and gated FFNs alike)."""
    def hook(mod, args, mask):
        return (args[0] * mask, *args[1:])

    handles = [f.out.register_forward_pre_hook(lambda mod, args, mask=mask: hook(mod, args, mask))
               for f, mask in zip(_ffns(model), masks)]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def ffn_importance(model: nn.Module, kind: str, batches: Optional[Iterable[dict]] = None) -> list[torch.Tensor]:
    """Per-layer neuron scores: first-order Taylor |sum act*grad| on data, or weight magnitude
    (L2 norm of the neuron's input row times that of its output column)."""
    if kind == "gradient":
        if batches is None:
            raise PruneError("gradient FFN importance needs data batches")
        return gradient_importance(model, batches, ffn_widths(model), ffn_masks)
    out = []
    for f in _ffns(model):
        rows = f.inp.weight.detach()
        norm = rows.norm(dim=1)
        if f.glu:  # value and gate halves: a neuron is one row of each
            value, gate = norm.chunk(2)
            norm = (value.pow(2) + gate.pow(2)).sqrt()
        out.append(norm * f.out.weight.detach().norm(dim=0))
    return out


def neurons_to_keep(scores: Sequence[torch.Tensor], amount: float, scope: str) -> list[list[int]]:
    """Indices to keep per layer after removing ``amount`` of the neurons (global or per layer)."""
    if not 0 <= amount <= 1:
        raise PruneError(f"prune.amount: must be in [0, 1], got {amount}")
    if scope == "layer":
        return [sorted(torch.argsort(s, descending=True)[:len(s) - round(amount * len(s))].tolist()) for s in scores]
    # global: normalise per layer so one layer's scale does not decide for the others
    normed = [s / (s.norm() + 1e-12) for s in scores]
    flat = torch.cat(normed)
    n_remove = round(amount * flat.numel())
    removed = torch.zeros(flat.numel(), dtype=torch.bool)
    removed[torch.argsort(flat)[:n_remove]] = True
    out, start = [], 0
    for s in scores:
        r = removed[start:start + len(s)]
        out.append(torch.nonzero(~r).flatten().tolist())
        start += len(s)
    return out


def keep_neurons(model: nn.Module, kept: Sequence[Sequence[int]]) -> None:
    """Slice each layer's FFN to the neurons ``kept[i]``."""
    for f, keep in zip(_ffns(model), kept):
        idx = torch.tensor(sorted(keep), dtype=torch.long)
        width = f.width
        if len(idx) == width:
            continue
        rows = torch.cat([idx, idx + width]) if f.glu else idx
        setattr(f.in_parent, f.in_name, slice_linear(f.inp, rows, dim=0))
        setattr(f.out_parent, f.out_name, slice_linear(f.out, idx, dim=1))


# ---------------------------------------------------------------------------------------------
# Convolution channels (torch-pruning)
# ---------------------------------------------------------------------------------------------
def module_shapes(model: nn.Module) -> dict[str, dict[str, Any]]:
    """Shape of every conv/linear/norm module: what a rebuild needs to recreate it."""
    shapes: dict[str, dict[str, Any]] = {}
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            shapes[name] = {"type": "conv2d", "in_channels": m.in_channels, "out_channels": m.out_channels,
                            "groups": m.groups}
        elif isinstance(m, nn.Linear):
            shapes[name] = {"type": "linear", "in_features": m.in_features, "out_features": m.out_features}
        elif isinstance(m, nn.BatchNorm2d):
            shapes[name] = {"type": "batchnorm2d", "num_features": m.num_features}
        elif isinstance(m, nn.LayerNorm):
            shapes[name] = {"type": "layernorm", "normalized_shape": list(m.normalized_shape)}
        else:  # bare parameters that channel pruning slices too (ConvNeXt's layer_scale_parameter)
            for pname, p in m.named_parameters(recurse=False):
                shapes[f"{name}.{pname}" if name else pname] = {"type": "parameter", "shape": list(p.shape)}
    return shapes


def changed_shapes(before: dict[str, dict], after: dict[str, dict]) -> dict[str, dict]:
    return {name: shape for name, shape in after.items() if before.get(name) != shape}


def _torch_pruning():
    try:
        import torch_pruning
    except ImportError:
        raise PruneError("channel pruning needs torch-pruning: pip install 'hfcompress[prune]'") from None
    return torch_pruning


def count_macs(model: nn.Module, example: dict[str, torch.Tensor]) -> tuple[int, int]:
    """(MACs, parameters) of one forward pass on ``example`` (torch-pruning's counter)."""
    tp = _torch_pruning()

    import contextlib
    import io

    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):  # the counter prints per-module warnings
        macs, params = tp.utils.count_ops_and_params(model, example)
    return int(macs), int(params)


def _classifier_layers(model: nn.Module) -> list[nn.Module]:
    """The final classifier Linear(s): their outputs are the labels and must not be pruned."""
    head = getattr(model, "classifier", None)
    if head is None:
        return []
    return [m for m in head.modules() if isinstance(m, nn.Linear)]


def prune_channels(model: nn.Module, example: dict[str, torch.Tensor], *, kind: str = "magnitude",
                   amount: Optional[float] = None, mac_reduction: Optional[float] = None,
                   loss_fn: Optional[Callable[[], torch.Tensor]] = None, steps: int = 40) -> dict[str, Any]:
    """Remove conv channels with torch-pruning's MetaPruner (dependency-aware, residual-safe).

    ``amount``: the fraction of each prunable layer's output channels to remove (layers coupled
    through a residual connection are pruned together, by the same fraction). The number kept is
    rounded down, but every layer keeps at least one channel: a layer of ``n`` channels is pruned
    by at most ``1 - 1/n``. So more ``amount`` never removes less, and ``amount`` near 1 leaves
    one channel per layer (torch-pruning alone skips a layer whose rounding would leave none).
    An ``amount > 0`` that removes no channel at all is an error.
    ``mac_reduction``: iterate in small steps until MACs fall to ``1 / mac_reduction`` of the
    original. ``kind="gradient"`` uses Taylor importance (``loss_fn`` computes a loss on data
    before each step). Returns the measured MACs/params.
    """
    tp = _torch_pruning()
    check_not_quantized(model, use_record=False)
    if kind == "gradient" and loss_fn is None:
        raise PruneError("gradient channel importance needs data (loss_fn)")
    for name, value in (("amount", amount), ("mac_reduction", mac_reduction)):
        if value is not None and not math.isfinite(value):
            raise PruneError(f"prune.{name}: must be a finite number, got {value}")
    if amount is not None and not 0 <= amount < 1:
        raise PruneError(f"prune.amount: must be in [0, 1) for channels, got {amount}")
    importance = tp.importance.TaylorImportance() if kind == "gradient" else tp.importance.MagnitudeImportance(p=2)
    base_macs, base_params = count_macs(model, example)
    target_ratio = amount if amount is not None else 0.95
    n_steps = 1 if amount is not None else steps
    ignored = _classifier_layers(model)
    ratios = _capped_ratios(model, target_ratio, ignored)
    pruner = tp.pruner.MetaPruner(model, example, importance=importance, pruning_ratio=target_ratio,
                                  pruning_ratio_dict=ratios, iterative_steps=n_steps, ignored_layers=ignored)
    macs = base_macs
    for _ in range(n_steps):
        if kind == "gradient":
            model.zero_grad()
            loss_fn().backward()
        pruner.step()
        macs, _ = count_macs(model, example)
        if mac_reduction is not None and base_macs / macs >= mac_reduction:
            break
    if mac_reduction is not None and base_macs / macs < mac_reduction:
        raise PruneError(f"prune.mac_reduction: reached only {base_macs / macs:.2f}x, not {mac_reduction}x")
    model.zero_grad(set_to_none=True)
    macs, params = count_macs(model, example)
    if amount is not None and amount > 0 and macs >= base_macs:
        smallest = min((m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d) and m.out_channels > 1),
                       default=1)
        raise PruneError(f"prune.amount: {amount} removes no channel (layers keep round-down of (1 - amount) x "
                         f"their channels; with {smallest}-channel layers, give at least {1 / max(smallest, 1):.3g})")
    return {"macs_before": base_macs, "macs_after": macs, "params_before": base_params, "params_after": params,
            "mac_reduction": base_macs / macs}


def _capped_ratios(model: nn.Module, ratio: float, ignored: Sequence[nn.Module]) -> dict[nn.Module, float]:
    """Per-layer pruning ratios: ``ratio``, capped so that a layer of ``n`` output channels keeps one.

    torch-pruning keeps ``int(n * (1 - ratio))`` channels and skips a layer whose count would be 0,
    which made high amounts prune less than low ones."""
    out: dict[nn.Module, float] = {}
    skip = set(map(id, ignored))
    for m in model.modules():
        if id(m) in skip:
            continue
        n = m.out_channels if isinstance(m, nn.Conv2d) else m.out_features if isinstance(m, nn.Linear) else None
        if n is None or n < 2:
            continue
        out[m] = min(ratio, 1.0 - 1.5 / n)
    return out


def rebuild_modules(model: nn.Module, shapes: dict[str, dict[str, Any]]) -> None:
    """Replace modules named in ``shapes`` by fresh ones of the recorded shape (weights load next)."""
    for name, shape in shapes.items():
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        old = getattr(parent, child)
        kind = shape["type"]
        if kind == "conv2d":
            new = nn.Conv2d(shape["in_channels"], shape["out_channels"], old.kernel_size, stride=old.stride,
                            padding=old.padding, dilation=old.dilation, groups=shape["groups"],
                            bias=old.bias is not None, padding_mode=old.padding_mode)
        elif kind == "linear":
            new = nn.Linear(shape["in_features"], shape["out_features"], bias=old.bias is not None)
        elif kind == "batchnorm2d":
            new = nn.BatchNorm2d(shape["num_features"], eps=old.eps, momentum=old.momentum, affine=old.affine,
                                 track_running_stats=old.track_running_stats)
        elif kind == "layernorm":
            new = nn.LayerNorm(shape["normalized_shape"], eps=old.eps, elementwise_affine=old.elementwise_affine)
            if type(old) is not nn.LayerNorm:  # a subclass (ConvNeXt's channels-first norm): keep its class
                old.normalized_shape = tuple(shape["normalized_shape"])
                if old.elementwise_affine:
                    old.weight = nn.Parameter(torch.empty(shape["normalized_shape"], dtype=old.weight.dtype,
                                                          device=old.weight.device))
                    if old.bias is not None:
                        old.bias = nn.Parameter(torch.empty(shape["normalized_shape"], dtype=old.bias.dtype,
                                                            device=old.bias.device))
                continue
        elif kind == "parameter":
            new = nn.Parameter(torch.empty(shape["shape"], dtype=old.dtype, device=old.device))
        else:
            raise PruneError(f"cannot rebuild module {name!r} of recorded type {kind!r}")
        setattr(parent, child, new)

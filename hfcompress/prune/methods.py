"""Pruning methods as strategy objects, one class per method, each registered once in
:mod:`hfcompress.methods.registry`.

A method knows how to check a request against a model before anything changes (``check``), whether
it scores importance on data (``needs_data``), how to apply itself (``apply``: returns the record
stage's ``result``), and how to rebuild a fresh skeleton to the saved shapes when the model is loaded
again (``rebuild``, with ``rebuilds = True``). Optional hooks: Trainer callbacks during the recovery
fine-tune (``recovery_callbacks``) and a weights writer (``write_weights``, e.g. packed sparse storage).
The mechanics live in the per-method modules (heads, structured, layers, unstructured, vocab).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Callable, Optional

import torch
from torch import nn

from hfcompress.hub.record import Stage
from hfcompress.prune.config import PruneConfig, PruneError


@dataclasses.dataclass
class PruneContext:
    """What a method's ``apply`` works on. ``preprocessor`` may be replaced (vocabulary pruning)."""

    model: nn.Module
    cfg: PruneConfig
    task: Any = None
    preprocessor: Any = None
    batches: Optional[list[dict[str, torch.Tensor]]] = None


class PruningMethod:
    name = ""
    rebuilds = False  # True: ``rebuild`` reshapes a skeleton before the saved weights load

    def check(self, model: nn.Module, cfg: PruneConfig) -> None:
        """Raise PruneError if ``cfg`` does not fit ``model``; change nothing."""

    def needs_data(self, cfg: PruneConfig) -> bool:
        return False

    def apply(self, ctx: PruneContext) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def rebuild(self, model: nn.Module, stage: Stage) -> None:
        """Reshape a fresh skeleton to the shapes this stage saved."""

    def recovery_callbacks(self, model: nn.Module, cfg: PruneConfig, total_steps: int) -> list:
        return []

    def write_weights(self, model: nn.Module, result: dict[str, Any]) -> Optional[Callable[[Path], None]]:
        """A weights writer for :func:`hfcompress.hub.save.save_compressed`, or None (safetensors)."""
        return None


def input_embeddings(model: nn.Module):
    try:
        return model.get_input_embeddings()
    except (AttributeError, NotImplementedError):  # e.g. ResNets (transformers raises NotImplementedError)
        return None


def _family_check(model: nn.Module, method: str) -> None:
    """Refuse ``method`` with one line where the model's family says it does not apply (unknown
    families are left to the method's own structural check)."""
    from hfcompress.models.families import maybe_adapter

    adapter = maybe_adapter(model)
    if adapter is not None and adapter.refuse(method):
        raise PruneError(f"prune.method: {method} on {adapter.name} ({type(model).__name__}): "
                         f"{adapter.refuse(method)}")


class HeadPruning(PruningMethod):
    name, rebuilds = "heads", True

    def check(self, model, cfg):
        from hfcompress.prune import heads as H

        counts = H.heads_per_layer(model)
        H.heads_to_remove(counts, [torch.zeros(n) for n in counts], count=cfg.count, amount=cfg.amount,
                          layers=cfg.layers, scope=cfg.scope, min_keep=H.min_heads(model))

    def needs_data(self, cfg):
        return cfg.importance == "gradient" and cfg.layers is None

    def apply(self, ctx):
        from hfcompress.prune import heads as H

        cfg, model = ctx.cfg, ctx.model
        counts = H.heads_per_layer(model)
        scores = None if cfg.layers is not None else H.head_importance(model, cfg.importance, ctx.batches)
        remove = H.heads_to_remove(counts, scores, count=cfg.count, amount=cfg.amount, layers=cfg.layers,
                                   scope=cfg.scope, min_keep=H.min_heads(model))
        kept = H.prune_heads(model, remove)
        return {"kept_heads": kept, "heads_per_layer": [len(k) for k in kept],
                "heads_removed": sum(len(r) for r in remove), "heads_before": sum(counts)}

    def rebuild(self, model, stage):
        from hfcompress.prune.heads import keep_heads

        # Indices are relative to the layer's heads before this stage; the skeleton has them all.
        keep_heads(model, stage.result["kept_heads"])


class FFNPruning(PruningMethod):
    name, rebuilds = "ffn", True

    def check(self, model, cfg):
        from hfcompress.prune.heads import encoder_layers

        encoder_layers(model, "ffn")

    def needs_data(self, cfg):
        return cfg.importance == "gradient"

    def apply(self, ctx):
        from hfcompress.prune import structured as S

        before = S.ffn_widths(ctx.model)
        scores = S.ffn_importance(ctx.model, ctx.cfg.importance, ctx.batches)
        S.keep_neurons(ctx.model, S.neurons_to_keep(scores, ctx.cfg.amount or 0.0, ctx.cfg.scope))
        return {"ffn_widths": S.ffn_widths(ctx.model), "ffn_widths_before": before}

    def rebuild(self, model, stage):
        from hfcompress.prune.structured import keep_neurons

        keep_neurons(model, [range(w) for w in stage.result["ffn_widths"]])


class ChannelPruning(PruningMethod):
    name, rebuilds = "channels", True

    def check(self, model, cfg):
        _family_check(model, "channels")
        if not any(isinstance(m, nn.Conv2d) for m in model.modules()):
            raise PruneError(f"prune.method: 'channels' prunes convolutions; {type(model).__name__} has none")

    def needs_data(self, cfg):
        return True  # one batch traces the dependency graph; gradient importance scores on all

    def apply(self, ctx):
        from hfcompress.prune import structured as S

        model, cfg, batches = ctx.model, ctx.cfg, ctx.batches
        example = {"pixel_values": batches[0]["pixel_values"][:1]}  # MACs per image
        shapes_before = S.module_shapes(model)

        def loss_fn():
            return sum(model(**b).loss for b in batches) / len(batches)

        was_training = model.training
        model.eval()
        measured = S.prune_channels(model, example, kind=cfg.importance, amount=cfg.amount,
                                    mac_reduction=cfg.mac_reduction, loss_fn=loss_fn)
        model.train(was_training)
        return {"module_shapes": S.changed_shapes(shapes_before, S.module_shapes(model)), **measured}

    def rebuild(self, model, stage):
        from hfcompress.prune.structured import rebuild_modules

        rebuild_modules(model, stage.result["module_shapes"])


class UnstructuredPruning(PruningMethod):
    """Magnitude masks, one-shot or gradual during recovery; saved packed (bitmask + non-zeros)."""

    name, rebuilds = "unstructured", True

    def apply(self, ctx):
        from hfcompress.prune import unstructured as U

        cfg = ctx.cfg
        if cfg.schedule == "oneshot":
            U.prune_oneshot(ctx.model, cfg.amount or 0.0, cfg.scope)
        weights = U.prunable_weights(ctx.model)
        return {"storage": cfg.storage, "pruned_tensors": sorted(weights), "sparsity": U.sparsity_of(weights)}

    def recovery_callbacks(self, model, cfg, total_steps):
        from hfcompress.prune.unstructured import GradualPruningCallback

        if cfg.schedule == "gradual":
            start, end = round(cfg.schedule_start * total_steps), max(1, round(cfg.schedule_end * total_steps))
            return [GradualPruningCallback(model, cfg.amount or 0.0, start, end, cfg.schedule_updates,
                                           cfg.initial_sparsity, cfg.scope)]
        # one-shot: prune again at step 0 (same masks) and hold them fixed while training
        return [GradualPruningCallback(model, cfg.amount or 0.0, 0, 0, 1, scope=cfg.scope)]

    def rebuild(self, model, stage):
        """Shapes are unchanged; packed weights (bitmask + values) are unpacked as the state dict loads."""
        if stage.result.get("storage") != "packed":
            return
        from hfcompress.prune.unstructured import unpack_state_dict

        def unpack(state_dict, prefix, *args):
            unpack_state_dict(state_dict)

        model._register_load_state_dict_pre_hook(unpack)

    def write_weights(self, model, result):
        if result.get("storage") != "packed":
            return None

        def write(folder: Path) -> None:
            from safetensors.torch import load_file, save_file

            from hfcompress.prune.unstructured import pack_state_dict

            # save_pretrained first: it decides which tensors are saved (tied weights, buffers)
            model.save_pretrained(folder, safe_serialization=True)
            state: dict[str, torch.Tensor] = {}
            for f in sorted(folder.glob("*.safetensors")):
                state.update(load_file(str(f)))
                f.unlink()
            (folder / "model.safetensors.index.json").unlink(missing_ok=True)
            names = [n for n in result["pruned_tensors"] if n in state]
            save_file(pack_state_dict(state, names), str(folder / "model.safetensors"), metadata={"format": "pt"})

        return write


class LayerDropping(PruningMethod):
    name = "drop_layers"  # the saved config has the new depth: an ordinary model, no rebuild

    def _count(self, model, cfg) -> tuple[int, str]:
        from hfcompress.prune.layers import units

        if cfg.count is not None:
            return cfg.count, "prune.count"
        return round((cfg.amount or 0.0) * len(units(model))), "prune.amount"

    def check(self, model, cfg):
        from hfcompress.prune import layers as L

        _family_check(model, "drop_layers")
        if cfg.drop is not None:
            L.check_drop(model, cfg.drop)
        else:
            L.choose(model, [0.0 if ok else None for ok in L.removable(model)], *self._count(model, cfg))

    def needs_data(self, cfg):
        return cfg.drop is None

    def apply(self, ctx):
        from hfcompress.prune import layers as L

        model, cfg = ctx.model, ctx.cfg
        n = len(L.units(model))
        result: dict[str, Any] = {"layers_before": n}
        drop = cfg.drop
        if drop is None:  # rank by the measured loss increase when each layer is skipped
            base_loss, scores = L.skip_importance(model, ctx.batches)
            drop = L.choose(model, scores, *self._count(model, cfg))
            result.update(base_loss=base_loss, loss_increase=scores)
        result.update(dropped=sorted(drop), kept=[i for i in range(n) if i not in set(drop)])
        result.update(L.drop_units(model, drop))
        return result


class VocabPruning(PruningMethod):
    """Token embeddings the task's training text never uses, and the tokenizer with them."""

    name = "vocab"  # the saved config has the new vocab_size: an ordinary model, no rebuild

    def check(self, model, cfg):
        _family_check(model, "vocab")
        if not isinstance(input_embeddings(model), nn.Embedding):
            raise PruneError(f"prune.method: 'vocab' prunes token embeddings; {type(model).__name__} has none")

    def apply(self, ctx):
        from hfcompress.prune import vocab as V
        from hfcompress.tasks.batches import preprocessed

        if ctx.task is None or ctx.preprocessor is None:
            raise PruneError("prune.method: 'vocab' keeps the tokens of the task's training text; it needs the "
                             "task and the tokenizer")
        cfg = ctx.cfg
        data = preprocessed(ctx.task, ctx.task.train_split, ctx.preprocessor, limit=cfg.vocab_samples,
                            mirror=cfg.datasets_mirror, seed=cfg.seed, max_length=cfg.max_length)
        used = V.used_token_ids(data)
        result = {"text_examples": len(data), "tokens_used": len(used)}
        if cfg.vocab_texts:
            lines = V.text_lines(cfg.vocab_texts)
            extra = V.used_token_ids({"input_ids": ids} for ids in
                                     ctx.preprocessor(lines, truncation=True, max_length=cfg.max_length)["input_ids"])
            result.update(extra_text_lines=len(lines), extra_text_tokens_added=len(extra - used))
            used |= extra
        if cfg.vocab_keep_first:
            first = set(range(min(cfg.vocab_keep_first, len(ctx.preprocessor))))
            result.update(keep_first=cfg.vocab_keep_first, keep_first_tokens_added=len(first - used))
            used |= first
        ctx.preprocessor, pruned = V.prune_vocab(ctx.model, ctx.preprocessor, used, keep_chars=cfg.vocab_keep_chars)
        return {**pruned, **result}


def total_steps(n_train: int, batch_size: int, epochs: float) -> int:
    return max(1, math.ceil(math.ceil(n_train / batch_size) * epochs))

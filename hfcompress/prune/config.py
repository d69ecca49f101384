"""The ``prune`` recipe section: one typed config for every pruning method.

``method`` picks what is removed: ``heads`` (attention heads, BERT family), ``ffn`` (FFN
intermediate neurons, BERT family), ``channels`` (convolution channels, dependency-aware through
torch-pruning), ``unstructured`` (individual weights, masks), ``drop_layers`` (whole transformer
layers or ResNet residual blocks) or ``vocab`` (word-embedding rows of tokens the task's data never
uses, with the tokenizer rewritten to match). How much is removed is given by ``amount`` (a fraction),
``count`` (heads, drop_layers), ``layers`` (heads only: per-layer head indices), ``drop``
(drop_layers only: layer/block indices) or ``mac_reduction`` (channels only); ``vocab`` needs none.
For ``channels``, ``amount`` is the fraction of each prunable layer's output channels removed
(coupled layers together, every layer keeps at least one channel), so it is monotone: more never
removes less. Removing every attention head (heads) is refused, like removing every layer.
Everything that can be checked without the model is checked here; what needs the model (head counts,
layer indices, shortcut blocks) is checked before anything is written.

The optional recovery fine-tune (``finetune_epochs > 0``) trains on hard labels (``recovery:
plain``) or distils from the unpruned model (``recovery: distill``): a frozen copy taken before
pruning is the teacher of hfcompress's ``DistillationTrainer``, with the loss of a default
``distill`` recipe, ``logits`` (KL at ``recovery_temperature``, weight 1) + ``ce`` (weight
``recovery_ce_weight``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal, Optional, Union

from hfcompress.config.base import Config
from hfcompress.errors import ConfigError
from hfcompress.tasks.spec import TaskSpec

METHODS = ("heads", "ffn", "channels", "unstructured", "drop_layers", "vocab")


class PruneError(ConfigError):
    """A pruning request that does not fit the model (too many heads, a layer out of range...)."""


@dataclasses.dataclass
class PruneConfig(Config):
    task: Union[str, TaskSpec]  # a built-in task name, or your data: {dataset: ..., text_columns: [...], ...}
    model: str
    output_dir: str
    method: Literal["heads", "ffn", "channels", "unstructured", "drop_layers", "vocab"]
    # what to score units by: weight magnitude (cheap, no data) or data-driven gradients
    # (Michel et al. 2019 head importance; first-order Taylor for neurons and channels).
    # drop_layers always measures the loss increase when each layer is skipped (on data).
    importance: Literal["magnitude", "gradient"] = "gradient"
    amount: Optional[float] = None  # fraction of units (heads, neurons, channels, weights) to remove
    count: Optional[int] = None  # heads: number of heads to remove in total; drop_layers: layers/blocks
    layers: Optional[dict[int, list[int]]] = None  # heads: {layer index: [head indices to remove]}
    drop: Optional[list[int]] = None  # drop_layers: indices of the layers (ResNet: blocks) to remove
    scope: Literal["global", "layer"] = "global"  # rank units across all layers, or per layer
    mac_reduction: Optional[float] = None  # channels: prune until MACs drop by this factor (2.0 = half)
    # unstructured: one-shot, or gradual on the cubic schedule of Zhu & Gupta (2017) while fine-tuning
    schedule: Literal["oneshot", "gradual"] = "oneshot"
    initial_sparsity: float = 0.0
    schedule_start: float = 0.0  # fraction of fine-tuning steps before the first pruning step
    schedule_end: float = 0.7  # fraction of fine-tuning steps at which the target is reached
    schedule_updates: int = 10  # number of mask updates between start and end
    storage: Literal["packed", "dense"] = "packed"  # unstructured: bitmask + non-zeros, or dense
    # vocab: keep the tokens the task's training text uses (None = the whole train split), plus
    # special tokens and (keep_chars) every single-character piece so unseen words still segment
    vocab_samples: Optional[int] = None
    vocab_keep_chars: bool = True
    # ... plus the tokens of unlabelled in-domain text (UTF-8 files, one text per line) that the
    # model will meet in production but the train split lacks,
    vocab_texts: Optional[list[str]] = None
    # ... plus the tokenizer's first N ids (WordPiece, BPE and Unigram vocabularies list their most
    # frequent pieces early: general words a shifted input is likely to use)
    vocab_keep_first: int = 0
    # data for importance scores
    score_samples: int = 256
    # optional recovery fine-tune after pruning (required for gradual unstructured pruning)
    finetune_epochs: float = 0.0
    # plain: hard labels only (a plain Trainer); distill: the unpruned model teaches the pruned one
    recovery: Literal["plain", "distill"] = "plain"
    recovery_temperature: float = 2.0  # distill: softmax temperature of the logits (KD) term, as DistillConfig
    recovery_ce_weight: float = 0.5  # distill: weight of the hard-label ``ce`` term (``logits`` weighs 1)
    max_train_samples: Optional[int] = None
    learning_rate: float = 5e-5
    batch_size: int = 32
    max_length: int = 128
    seed: int = 42
    # evaluation at the end (on the task's first eval split; None = whole split, 0 = skip)
    eval_limit: Optional[int] = None
    threads: Optional[int] = None
    datasets_mirror: Optional[str] = None

    def validate(self, where: str) -> None:
        given = [k for k in ("amount", "count", "layers", "drop", "mac_reduction") if getattr(self, k) is not None]
        if self.method == "vocab":
            if given:
                raise ConfigError(f"{where}.{given[0]}: method 'vocab' keeps the tokens the task's data uses; "
                                  "remove it (use vocab_samples to choose how much data)")
            if self.vocab_samples is not None and self.vocab_samples <= 0:
                raise ConfigError(f"{where}.vocab_samples: must be > 0, got {self.vocab_samples}")
            if self.vocab_keep_first < 0:
                raise ConfigError(f"{where}.vocab_keep_first: must be >= 0, got {self.vocab_keep_first}")
            for i, path in enumerate(self.vocab_texts or []):
                if not Path(path).is_file():
                    raise ConfigError(f"{where}.vocab_texts[{i}]: no such file {path!r} (plain text, one text per line)")
        elif self.vocab_texts or self.vocab_keep_first:
            name = "vocab_texts" if self.vocab_texts else "vocab_keep_first"
            raise ConfigError(f"{where}.{name}: only method 'vocab' keeps a vocabulary (method is {self.method!r})")
        elif len(given) != 1:
            raise ConfigError(f"{where}: give exactly one of amount, count, layers, drop, mac_reduction "
                              f"(got {', '.join(given) or 'none'})")
        if self.amount is not None:
            top = 1.0 if self.method in ("heads", "ffn") else 0.999  # a network needs some channels/weights/layers
            if not 0 <= self.amount <= top:
                raise ConfigError(f"{where}.amount: must be in [0, {top:g}], got {self.amount}")
        if self.count is not None and self.count < 0:
            raise ConfigError(f"{where}.count: must be >= 0, got {self.count}")
        if self.count is not None and self.method not in ("heads", "drop_layers"):
            raise ConfigError(f"{where}.count: applies to methods 'heads' and 'drop_layers' only")
        if self.layers is not None and self.method != "heads":
            raise ConfigError(f"{where}.layers: applies to method 'heads' only (drop whole layers with method "
                              "'drop_layers' and drop)")
        if self.drop is not None:
            if self.method != "drop_layers":
                raise ConfigError(f"{where}.drop: applies to method 'drop_layers' only")
            if not self.drop or any(i < 0 for i in self.drop) or len(set(self.drop)) != len(self.drop):
                raise ConfigError(f"{where}.drop: list distinct layer indices >= 0, got {self.drop}")
        if self.method == "drop_layers" and self.importance == "magnitude":
            raise ConfigError(f"{where}.importance: drop_layers ranks layers by the measured loss increase when "
                              "each is skipped; 'magnitude' does not apply (give drop to choose without data)")
        if self.layers is not None:
            for layer, heads in self.layers.items():
                if layer < 0 or any(h < 0 for h in heads):
                    raise ConfigError(f"{where}.layers.{layer}: layer and head indices must be >= 0")
        if self.mac_reduction is not None:
            if self.method != "channels":
                raise ConfigError(f"{where}.mac_reduction: applies to method 'channels' only")
            if self.mac_reduction <= 1:
                raise ConfigError(f"{where}.mac_reduction: must be > 1, got {self.mac_reduction}")
        if self.schedule == "gradual":
            if self.method != "unstructured":
                raise ConfigError(f"{where}.schedule: 'gradual' applies to method 'unstructured' only")
            if self.finetune_epochs <= 0:
                raise ConfigError(f"{where}.finetune_epochs: gradual pruning happens while fine-tuning; "
                                  "must be > 0")
            if not 0 <= self.schedule_start < self.schedule_end <= 1:
                raise ConfigError(f"{where}.schedule_end: need 0 <= schedule_start < schedule_end <= 1, got "
                                  f"{self.schedule_start}, {self.schedule_end}")
            if self.schedule_updates < 1:
                raise ConfigError(f"{where}.schedule_updates: must be >= 1, got {self.schedule_updates}")
            if not 0 <= self.initial_sparsity <= (self.amount or 0):
                raise ConfigError(f"{where}.initial_sparsity: must be in [0, amount], got {self.initial_sparsity}")
        if self.recovery == "distill" and self.method == "vocab":
            raise ConfigError(f"{where}.recovery: 'distill' feeds the same token ids to the unpruned teacher, whose "
                              "vocabulary differs after method 'vocab'; use recovery: plain (or none: the task's "
                              "text tokenizes exactly as before)")
        if self.recovery == "distill" and self.finetune_epochs <= 0:
            raise ConfigError(f"{where}.recovery: 'distill' is a recovery fine-tune; it needs finetune_epochs > 0, "
                              f"got {self.finetune_epochs}")
        if self.recovery_temperature <= 0:
            raise ConfigError(f"{where}.recovery_temperature: must be > 0, got {self.recovery_temperature}")
        if self.recovery_ce_weight < 0:
            raise ConfigError(f"{where}.recovery_ce_weight: must be >= 0, got {self.recovery_ce_weight}")
        for name in ("score_samples", "batch_size", "max_length", "learning_rate"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{where}.{name}: must be > 0, got {getattr(self, name)}")
        for name in ("finetune_epochs",):
            if getattr(self, name) < 0:
                raise ConfigError(f"{where}.{name}: must be >= 0, got {getattr(self, name)}")
        from hfcompress.config.recipe import MAX_EPOCHS

        if self.finetune_epochs > MAX_EPOCHS:
            raise ConfigError(f"{where}.finetune_epochs: must be at most {MAX_EPOCHS} (a budget this large is almost "
                              f"certainly a typo), got {self.finetune_epochs:g}")
        if self.method == "channels" and self.amount is not None and self.amount >= 1:
            raise ConfigError(f"{where}.amount: channels keep at least one per layer; must be < 1, got {self.amount}")
        from hfcompress.config.paths import refuse_output_file, refuse_output_over_input

        refuse_output_over_input(self.output_dir, [self.model], where=f"{where}.output_dir")
        refuse_output_file(self.output_dir, where=f"{where}.output_dir")
        for name in ("max_train_samples", "threads"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"{where}.{name}: must be > 0, got {value}")
        if self.eval_limit is not None and self.eval_limit < 0:
            raise ConfigError(f"{where}.eval_limit: must be >= 0, got {self.eval_limit}")


def check_not_quantized(model, what: str = "prune", use_record: bool = True) -> None:
    """Refuse a quantized model (INT8 modules, bitsandbytes; with ``use_record`` also any model whose record
    has a ``quantize`` stage, e.g. half precision): pruning slices float weights; prune the float model
    first, then quantize. (The loaders rebuild a pruned skeleton before quantizing it: they need
    ``use_record=False``.)"""
    from torch import nn
    import torch

    record = getattr(getattr(model, "config", None), "hfcompress", None)
    stages = record.get("stages", []) if isinstance(record, dict) else []
    quantized = use_record and any(isinstance(s, dict) and s.get("method") == "quantize" for s in stages)
    if not quantized:
        for m in model.modules():
            module_path = type(m).__module__
            if ("quantized" in module_path or "bitsandbytes" in module_path
                    or (isinstance(m, nn.Linear) and not isinstance(getattr(m, "weight", None), torch.Tensor))):
                quantized = True
                break
    if quantized:
        raise PruneError(f"{what}: the model is quantized (INT8 or another quantized format); prune the float "
                         "model it came from, then quantize the pruned model")

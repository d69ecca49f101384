"""Per-family adapters: where a model family keeps its layers, attention, FFN and embeddings, and how
its config records new shapes. Every method (head / FFN / layer pruning, students, features) goes
through :func:`adapter_for` instead of spelling attribute paths itself; adding a family is one adapter.

An adapter answers, for a model of its family:

- ``containers(model)``: the (parent, attribute) of each list of repeated blocks, in forward order
  (one for a transformer encoder, one per stage for ResNet/ConvNeXt);
- ``attention(layer)``: an :class:`Attention` (the module holding the head-count attributes, the
  Q/K/V projections, fused or not, and the output projection);
- ``ffn(layer)``: an :class:`FFN` (input and output Linear; ``glu``: the input projection holds two
  halves, value and gate);
- config keys for students (``hidden_key``, ``heads_key``, ``ffn_key``, ``depth_key``) and
  ``student_config(...)`` fix-ups (DeBERTa's ``pooler_hidden_size``, ModernBERT's ``layer_types``);
- ``refuse(method)``: one line saying why the method does not apply to the family, or None.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import torch
from torch import nn

from hfcompress.errors import HfCompressError


class UnsupportedFamilyError(HfCompressError):
    """The model's family has no adapter, or the method does not apply to it."""


@dataclasses.dataclass
class Attention:
    module: nn.Module            # holds the count attributes and the projections
    qkv: tuple[str, ...]         # ("query", "key", "value") or one fused name ("Wqkv",)
    out_parent: nn.Module        # the module holding the output projection
    out_name: str
    count_attrs: tuple[str, ...] = ("num_attention_heads",)
    size_attrs: tuple[str, ...] = ("all_head_size",)  # set to heads * head size

    @property
    def out(self) -> nn.Linear:
        return getattr(self.out_parent, self.out_name)


@dataclasses.dataclass
class FFN:
    in_parent: nn.Module
    in_name: str
    out_parent: nn.Module
    out_name: str
    glu: bool = False

    @property
    def inp(self) -> nn.Linear:
        return getattr(self.in_parent, self.in_name)

    @property
    def out(self) -> nn.Linear:
        return getattr(self.out_parent, self.out_name)

    @property
    def width(self) -> int:
        return self.out.in_features


class FamilyAdapter:
    name = ""                    # what users read: "BERT", "DistilBERT", ...
    model_types: tuple[str, ...] = ()
    modality = "text"
    base_attr: Optional[str] = None   # attribute of the base model on the task model
    layers_path = "encoder.layer"     # below the base model
    hidden_key, heads_key, ffn_key, depth_key = "hidden_size", "num_attention_heads", "intermediate_size", \
        "num_hidden_layers"
    shared_layers = False        # ALBERT: one layer's weights reused at every depth
    staged = False               # ResNet / ConvNeXt: blocks grouped in stages
    keeps_first_layer = False    # ModernBERT: layer 0 is built differently (no attention norm)
    refusals: dict[str, str] = {}

    # ---- structure ---------------------------------------------------------------------------
    def base(self, model: nn.Module) -> nn.Module:
        return getattr(model, "base_model", model)

    def containers(self, model: nn.Module) -> list[tuple[nn.Module, str]]:
        parent_path, _, attr = self.layers_path.rpartition(".")
        parent = self.base(model).get_submodule(parent_path) if parent_path else self.base(model)
        return [(parent, attr)]

    def layers(self, model: nn.Module) -> list[nn.Module]:
        return [block for parent, attr in self.containers(model) for block in getattr(parent, attr)]

    def layer_list_path(self, model: nn.Module) -> str:
        parent, attr = self.containers(model)[0]
        names = {id(m): n for n, m in model.named_modules()}
        return f"{names[id(parent)]}.{attr}".lstrip(".")

    def attention(self, layer: nn.Module) -> Attention:
        return Attention(layer.attention.self, ("query", "key", "value"), layer.attention.output, "dense")

    def ffn(self, layer: nn.Module) -> FFN:
        return FFN(layer.intermediate, "dense", layer.output, "dense")

    def head_size(self, model: nn.Module) -> int:
        c = model.config
        return int(getattr(c, "head_dim", None) or getattr(c, "attention_head_size", None)
                   or getattr(c, self.hidden_key) // getattr(c, self.heads_key))

    def can_empty_attention(self) -> bool:
        """Whether a layer may lose all of its heads (BERT-style: ``attention.self`` is replaced)."""
        return False

    def empty_attention(self, layer: nn.Module) -> None:  # pragma: no cover - only BERT-style
        raise NotImplementedError

    def after_heads(self, layer: nn.Module, keep: list[int]) -> None:
        """Family-specific follow-up of a head slice (e.g. MPNet's shared relative position bias)."""

    # ---- config --------------------------------------------------------------------------------
    def depth(self, config) -> int:
        return int(getattr(config, self.depth_key))

    def set_depth(self, config, kept: list[int]) -> None:
        before = getattr(config, self.depth_key)
        setattr(config, self.depth_key, len(kept))
        values = getattr(config, "layer_types", None)
        if isinstance(values, (list, tuple)) and len(values) == before:
            config.layer_types = [values[i] for i in kept]

    def student_config(self, config, hidden: int, heads: int, ffn: int, depth: int) -> None:
        setattr(config, self.hidden_key, hidden)
        setattr(config, self.heads_key, heads)
        setattr(config, self.ffn_key, ffn)
        self.set_depth(config, list(range(depth)))
        if hasattr(config, "head_dim") and getattr(config, "head_dim", None):
            config.head_dim = hidden // heads
        if hasattr(config, "attention_head_size"):
            delattr(config, "attention_head_size")

    # ---- refusals ------------------------------------------------------------------------------
    def refuse(self, method: str) -> Optional[str]:
        if method == "channels" and self.modality == "text":
            return "a transformer encoder has no convolutions: prune heads or ffn instead"
        return self.refusals.get(method)

    def check(self, method: str, model: nn.Module) -> None:
        why = self.refuse(method)
        if why:
            raise UnsupportedFamilyError(f"{method} on {self.name} ({type(model).__name__}): {why}")


class BertLike(FamilyAdapter):
    name = "BERT"
    model_types = ("bert",)

    def can_empty_attention(self):
        return True

    def empty_attention(self, layer):
        from hfcompress.prune.heads import NoHeadsSelfAttention

        layer.attention.self = NoHeadsSelfAttention()

    def attention(self, layer):
        sa = layer.attention.self
        if getattr(sa, "num_attention_heads", None) == 0:  # every head removed
            return Attention(sa, (), layer.attention.output, "dense")
        return super().attention(layer)


class RoBERTa(BertLike):
    name, model_types = "RoBERTa", ("roberta", "camembert")


class XLMRoBERTa(BertLike):
    name, model_types = "XLM-RoBERTa", ("xlm-roberta",)


class Electra(BertLike):
    name, model_types = "ELECTRA", ("electra",)


class DistilBERT(FamilyAdapter):
    name, model_types = "DistilBERT", ("distilbert",)
    layers_path = "transformer.layer"
    hidden_key, heads_key, ffn_key, depth_key = "dim", "n_heads", "hidden_dim", "n_layers"

    def attention(self, layer):
        a = layer.attention
        return Attention(a, ("q_lin", "k_lin", "v_lin"), a, "out_lin", count_attrs=("n_heads",), size_attrs=())

    def ffn(self, layer):
        return FFN(layer.ffn, "lin1", layer.ffn, "lin2")


class DebertaV2(FamilyAdapter):
    name, model_types = "DeBERTa-v2", ("deberta-v2", "deberta")

    def attention(self, layer):
        sa = layer.attention.self
        # unshared relative-position projections (share_att_key false) are per head too
        extra = tuple(n for n in ("pos_key_proj", "pos_query_proj") if isinstance(getattr(sa, n, None), nn.Linear))
        return Attention(sa, ("query_proj", "key_proj", "value_proj", *extra), layer.attention.output, "dense")

    def student_config(self, config, hidden, heads, ffn, depth):
        super().student_config(config, hidden, heads, ffn, depth)
        if getattr(config, "pooler_hidden_size", None) is not None:
            config.pooler_hidden_size = hidden


class MPNet(FamilyAdapter):
    name, model_types = "MPNet", ("mpnet",)

    def attention(self, layer):
        a = layer.attention
        return Attention(a.attn, ("q", "k", "v"), a.attn, "o")

    def after_heads(self, layer, keep):
        # the relative position bias is computed once for all heads and passed to every layer:
        # keep this layer's heads of it
        attn = layer.attention.attn
        old = getattr(attn, "_hfcompress_head_hook", None)
        prev = getattr(attn, "_hfcompress_kept", None)
        if old is not None:
            old.remove()
            keep = [prev[h] for h in keep]
        index = torch.tensor(keep, dtype=torch.long)

        def pick(bias):
            if isinstance(bias, torch.Tensor) and bias.dim() == 4 and bias.shape[1] != len(index):
                return bias.index_select(1, index.to(bias.device))
            return bias

        def hook(module, args, kwargs):  # position_bias: third positional argument or keyword
            if "position_bias" in kwargs:
                kwargs["position_bias"] = pick(kwargs["position_bias"])
            elif len(args) > 2:
                args = (*args[:2], pick(args[2]), *args[3:])
            return args, kwargs

        attn._hfcompress_kept = keep
        attn._hfcompress_head_hook = attn.register_forward_pre_hook(hook, with_kwargs=True)


class Albert(FamilyAdapter):
    name, model_types = "ALBERT", ("albert",)
    shared_layers = True
    refusals = {"drop_layers": "ALBERT shares one layer's weights across depth: dropping layers removes no "
                               "weights (use a 'layers' distillation student for a shallower model)"}

    def containers(self, model):
        """The distinct layers (one per layer group); each runs at several depths."""
        enc = self.base(model).encoder
        return [(group, "albert_layers") for group in enc.albert_layer_groups]

    def attention(self, layer):
        a = layer.attention
        return Attention(a, ("query", "key", "value"), a, "dense")

    def ffn(self, layer):
        return FFN(layer, "ffn", layer, "ffn_output")


class ModernBERT(FamilyAdapter):
    name, model_types = "ModernBERT", ("modernbert",)
    layers_path = "layers"
    keeps_first_layer = True

    def attention(self, layer):
        return Attention(layer.attn, ("Wqkv",), layer.attn, "Wo", count_attrs=(), size_attrs=())

    def ffn(self, layer):
        return FFN(layer.mlp, "Wi", layer.mlp, "Wo", glu=True)

    def set_depth(self, config, kept):
        types = list(config.layer_types) if getattr(config, "layer_types", None) else None
        config.num_hidden_layers = len(kept)
        if types is not None:
            config.layer_types = [types[i] if i < len(types) else
                                  ("full_attention" if i % getattr(config, "global_attn_every_n_layers", 3) == 0
                                   else "sliding_attention") for i in kept]

    def student_config(self, config, hidden, heads, ffn, depth):
        config.hidden_size, config.num_attention_heads, config.intermediate_size = hidden, heads, ffn
        self.set_depth(config, list(range(depth)))
        if getattr(config, "head_dim", None):
            config.head_dim = hidden // heads


class ViT(FamilyAdapter):
    name, model_types, modality = "ViT", ("vit", "deit"), "image"
    layers_path = "layers"
    refusals = {"channels": "channel pruning removes convolution channels; a ViT has one convolution (the "
                            "patch embedding) whose width is the model width: use heads or ffn",
                "vocab": "a ViT has no token vocabulary"}

    def containers(self, model):
        base = self.base(model)
        if hasattr(base, "layers"):
            return [(base, "layers")]
        return [(base.encoder, "layer")]  # older transformers

    def attention(self, layer):
        a = layer.attention
        return Attention(a, ("q_proj", "k_proj", "v_proj"), a, "o_proj", size_attrs=())

    def ffn(self, layer):
        return FFN(layer.mlp, "fc1", layer.mlp, "fc2")


class Staged(FamilyAdapter):
    """Convolutional families: blocks grouped in stages (``config.depths``)."""

    modality, staged = "image", True
    depth_key = "depths"
    refusals = {"heads": "a convolutional network has no attention heads",
                "ffn": "a convolutional network has no transformer FFN: use channels",
                "vocab": "an image model has no token vocabulary"}

    def containers(self, model):
        stages = self.base(model).encoder.stages
        return [(stage, "layers") for stage in stages]

    def layer_list_path(self, model):
        names = {id(m): n for n, m in model.named_modules()}
        return names[id(self.base(model).encoder.stages)]

    def depth(self, config):
        return max(config.depths)

    def set_depth(self, config, kept):  # kept: blocks per stage
        config.depths = list(kept)

    def student_config(self, config, hidden, heads, ffn, depth):
        factor = hidden / config.hidden_sizes[0]
        config.hidden_sizes = [max(1, round(w * factor)) for w in config.hidden_sizes]
        if hasattr(config, "embedding_size"):
            config.embedding_size = max(1, round(config.embedding_size * factor))
        config.depths = [min(d, depth) for d in config.depths]


class ResNet(Staged):
    name, model_types = "ResNet", ("resnet",)


class ConvNeXt(Staged):
    name, model_types = "ConvNeXt", ("convnext", "convnextv2")


FAMILIES: list[FamilyAdapter] = [BertLike(), RoBERTa(), XLMRoBERTa(), Electra(), DistilBERT(), DebertaV2(), MPNet(),
                                 Albert(), ModernBERT(), ViT(), ResNet(), ConvNeXt()]
_BY_TYPE = {t: a for a in FAMILIES for t in a.model_types}


def family_names() -> list[str]:
    return [a.name for a in FAMILIES]


def adapter_for(model: nn.Module, method: Optional[str] = None) -> FamilyAdapter:
    """The family adapter of ``model``; with ``method``, also refuse it with one line if it does not apply."""
    config = getattr(model, "config", None)
    model_type = getattr(config, "model_type", None)
    adapter = _BY_TYPE.get(model_type)
    if adapter is None:
        what = f"{method} " if method else ""
        raise UnsupportedFamilyError(
            f"{what}on {type(model).__name__}: model family {model_type!r} has no hfcompress adapter (supported: "
            f"{', '.join(sorted(_BY_TYPE))})")
    if method:
        adapter.check(method, model)
    return adapter


def maybe_adapter(model: nn.Module) -> Optional[FamilyAdapter]:
    return _BY_TYPE.get(getattr(getattr(model, "config", None), "model_type", None))


def config_layout(config: dict) -> tuple[Optional[int], Optional[int], Optional[int]]:
    """(distinct layers, heads per layer, FFN width) a ``config.json`` dict describes, in its family's keys
    (None where the family has no such thing). ALBERT: its distinct layers (one per layer group)."""
    adapter = _BY_TYPE.get(config.get("model_type"))
    if adapter is None:
        adapter = FamilyAdapter()
    if adapter.staged:
        return None, None, None
    if adapter.shared_layers:
        layers = int(config.get("num_hidden_groups", 1)) * int(config.get("inner_group_num", 1))
    else:
        layers = config.get(adapter.depth_key)
    return layers, config.get(adapter.heads_key), config.get(adapter.ffn_key)


def register(adapter: FamilyAdapter) -> FamilyAdapter:
    """Add a family (its model types override earlier adapters')."""
    FAMILIES.append(adapter)
    for t in adapter.model_types:
        _BY_TYPE[t] = adapter
    return adapter


"""PyTorch INT8: dynamic quantization of Linear layers (BERT family), FX static PTQ and QAT (ResNet).

Why ``torch.ao.quantization`` although it is deprecated in favour of torchao: torchao is not
installed beside the pinned CPU torch 2.13 here, its pt2e flow produces ``torch.export``
programs (no safetensors save, no transformers config around them), and its int8 CPU speed-ups
come through ``torch.compile``. ``torch.ao`` still ships in 2.13, runs the fbgemm/x86 INT8
kernels on this CPU, and gives ordinary ``nn.Module`` trees whose weights we can store as plain
tensors. When torch removes it, this module is the one place to port.

Storage without pickle: quantized tensors and the packed params of quantized Linear layers do
not go through safetensors, so :func:`flatten_state` writes each quantized tensor as its integer
representation plus scale/zero-point (and axis) tensors, with a small JSON description in the
safetensors metadata; :func:`unflatten_state` rebuilds the quantized tensors, and the module
tree is rebuilt by replaying the same conversion on a float skeleton (see ``loaders.py``).

ResNet and FX: ``transformers``' ResNet cannot be symbolically traced as a whole
(``if num_channels != self.num_channels`` in its embeddings branches on a traced shape), so
:class:`TraceableResNet` re-wires the same submodules into a forward without that check; the
quantized graph lives inside :class:`QuantizedImageClassifier`, which returns a transformers
output with ``.logits`` (and a loss when given labels, for QAT with the Trainer).
"""

from __future__ import annotations

import contextlib
import json
import warnings
from typing import Any, Iterable, Optional

import torch
from torch import nn

from hfcompress.errors import HfCompressError

ENGINE = "x86"  # fbgemm + onednn kernels; the right choice for any x86-64 CPU (AVX2 or better)
ENCODING_KEY = "hfcompress_torch_int8"
VERSIONS_KEY = "hfcompress_torch_int8_versions"


@contextlib.contextmanager
def quiet():
    """Silence torch.ao's deprecation notice (said once in the module docstring above)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def require_torch_ao() -> None:
    """The version guard of the torch.ao path (measured against its torchao replacement in
    benchmarks/results/torchao_check.md: torchao's eager int8 was slower than fp32 here, torch.ao 1.7x
    faster, so torch.ao stays while torch ships it)."""
    quantization = getattr(torch.ao, "quantization", None)
    if quantization is None or not hasattr(quantization, "quantize_dynamic"):
        raise HfCompressError(f"torch {torch.__version__} no longer ships torch.ao.quantization, which the torch-* "
                              "and qat methods use; use --method onnx-dynamic / onnx-static, or torch<=2.13")


def set_engine() -> None:
    if ENGINE in torch.backends.quantized.supported_engines:
        torch.backends.quantized.engine = ENGINE


# ---------------------------------------------------------------------------------------------
# Dynamic quantization (Linear layers)
# ---------------------------------------------------------------------------------------------
def dynamic_qconfig(per_channel: bool):
    from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig

    return per_channel_dynamic_qconfig if per_channel else default_dynamic_qconfig


def quantize_dynamic_linear(model: nn.Module, per_channel: bool = False) -> nn.Module:
    """Every ``nn.Linear`` -> ``torch.ao.nn.quantized.dynamic.Linear`` (int8 weights, fp32 activations)."""
    set_engine()
    with quiet():
        return torch.ao.quantization.quantize_dynamic(model.eval(), {nn.Linear: dynamic_qconfig(per_channel)},
                                                      dtype=torch.qint8)


# ---------------------------------------------------------------------------------------------
# FX static quantization and QAT (ResNet)
# ---------------------------------------------------------------------------------------------
class TraceableResNet(nn.Module):
    """transformers' ResNetForImageClassification re-wired without its channel check (FX-traceable).

    Holds the very same submodules, so its float output equals the original model's logits.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        resnet = model.resnet
        self.stem = resnet.embedder.embedder
        self.stem_pool = resnet.embedder.pooler
        self.stages = resnet.encoder.stages
        self.pooler = resnet.pooler
        self.classifier = model.classifier

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        x = self.stem_pool(self.stem(pixel_values))
        for stage in self.stages:
            x = stage(x)
        return self.classifier(self.pooler(x))


class QuantizedImageClassifier(nn.Module):
    """A quantized FX graph behind the transformers calling convention (``pixel_values`` -> ``.logits``)."""

    def __init__(self, core: nn.Module, config):
        super().__init__()
        self.core = core
        self.config = config

    def forward(self, pixel_values: torch.Tensor, labels: Optional[torch.Tensor] = None, **_: Any):
        from transformers.modeling_outputs import ImageClassifierOutputWithNoAttention

        logits = self.core(pixel_values)
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return ImageClassifierOutputWithNoAttention(loss=loss, logits=logits)


def check_resnet(model: nn.Module) -> None:
    if not (hasattr(model, "resnet") and hasattr(model, "classifier")):
        raise HfCompressError(f"FX static INT8 / QAT here supports transformers ResNet image classifiers; got "
                              f"{type(model).__name__}. Use --method onnx-static for other image models, "
                              "or --method torch-dynamic for BERT-family text models")


def _example_inputs(config) -> tuple[torch.Tensor]:
    return (torch.randn(1, getattr(config, "num_channels", 3), 32, 32),)


def prepare_static(model: nn.Module, qat: bool = False, calibration: Optional[str] = None) -> nn.Module:
    """Insert observers (PTQ) or fake quantization (QAT) into the traceable ResNet.

    x86 defaults: per-channel symmetric int8 weights; activations observed with a
    HistogramObserver (range chosen to minimise quantization error; ``calibration`` "histogram"
    or None) or a MinMaxObserver (``calibration="minmax"``). The observer type changes the
    ranges only, never the converted module structure, so loading need not know it.
    """
    from torch.ao.quantization import QConfig, get_default_qat_qconfig_mapping, get_default_qconfig_mapping
    from torch.ao.quantization.observer import MinMaxObserver

    from torch.ao.quantization.quantize_fx import prepare_fx, prepare_qat_fx

    check_resnet(model)
    set_engine()
    core = TraceableResNet(model)
    with quiet():
        if qat:
            return prepare_qat_fx(core.train(), get_default_qat_qconfig_mapping(ENGINE), _example_inputs(model.config))
        mapping = get_default_qconfig_mapping(ENGINE)
        if calibration == "minmax":
            default = mapping.global_qconfig
            # reduce_range like the x86 default: 7-bit activations avoid the int16 saturation of
            # AVX2's u8*s8 multiply-add (vpmaddubsw) on CPUs without VNNI
            mapping = mapping.set_global(QConfig(activation=MinMaxObserver.with_args(dtype=torch.quint8,
                                                                                     reduce_range=True),
                                                 weight=default.weight))
        return prepare_fx(core.eval(), mapping, _example_inputs(model.config))


def convert_static(prepared: nn.Module, config) -> QuantizedImageClassifier:
    from torch.ao.quantization.quantize_fx import convert_fx

    with quiet():
        return QuantizedImageClassifier(convert_fx(prepared.eval()), config).eval()


def quantize_static_resnet(model: nn.Module, batches: Iterable[dict[str, torch.Tensor]],
                           calibration: Optional[str] = None) -> QuantizedImageClassifier:
    """Post-training static INT8: observe activation ranges on ``batches``, then convert."""
    prepared = prepare_static(model, qat=False, calibration=calibration)
    n = 0
    with torch.inference_mode():
        for batch in batches:
            prepared(batch["pixel_values"])
            n += 1
    if n == 0:
        raise HfCompressError("static quantization needs calibration data, got no batches "
                              "(set calibration_samples > 0 and check the task's train split)")
    return convert_static(prepared, model.config)


# ---------------------------------------------------------------------------------------------
# Storage: quantized state dict <-> plain tensors (no pickle)
# ---------------------------------------------------------------------------------------------
def flatten_state(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Plain tensors for safetensors, plus a JSON-able description of what to rebuild."""
    tensors: dict[str, torch.Tensor] = {}
    encoding: dict[str, Any] = {}

    def put(key: str, value: Any) -> Any:
        if isinstance(value, torch.Tensor) and value.is_quantized:
            desc = {"kind": "qtensor", "dtype": str(value.dtype).removeprefix("torch."),
                    "qscheme": str(value.qscheme()).removeprefix("torch.")}
            tensors[key] = value.int_repr().contiguous()
            if value.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric):
                tensors[key + "::scale"] = value.q_per_channel_scales().contiguous()
                tensors[key + "::zero_point"] = value.q_per_channel_zero_points().contiguous()
                desc["axis"] = int(value.q_per_channel_axis())
            else:
                desc["scale"] = float(value.q_scale())
                desc["zero_point"] = int(value.q_zero_point())
            return desc
        if isinstance(value, torch.Tensor):
            tensors[key] = value.detach().contiguous()
            return {"kind": "tensor"}
        if isinstance(value, (tuple, list)):
            return {"kind": "tuple", "items": [put(f"{key}::{i}", v) for i, v in enumerate(value)]}
        if isinstance(value, torch.dtype):
            return {"kind": "dtype", "value": str(value).removeprefix("torch.")}
        if value is None:
            return {"kind": "none"}
        raise HfCompressError(f"cannot store state entry {key!r} of type {type(value).__name__} without pickle")

    for key, value in state.items():
        encoding[key] = put(key, value)
    return tensors, encoding


def unflatten_state(tensors: dict[str, torch.Tensor], encoding: dict[str, Any]) -> dict[str, Any]:
    def get(key: str, desc: dict[str, Any]) -> Any:
        kind = desc["kind"]
        if kind == "tensor":
            return tensors[key]
        if kind == "none":
            return None
        if kind == "dtype":
            return getattr(torch, desc["value"])
        if kind == "tuple":
            return tuple(get(f"{key}::{i}", d) for i, d in enumerate(desc["items"]))
        if kind == "qtensor":
            ints = tensors[key]
            if "axis" in desc:
                return torch._make_per_channel_quantized_tensor(
                    ints, tensors[key + "::scale"], tensors[key + "::zero_point"], desc["axis"])
            return torch._make_per_tensor_quantized_tensor(ints, desc["scale"], desc["zero_point"])
        raise HfCompressError(f"unknown stored entry kind {kind!r} for {key!r}")

    return {key: get(key, desc) for key, desc in encoding.items()}


def save_quantized_module(model: nn.Module, path) -> None:
    """Write ``model``'s INT8 state to safetensors: tensors + encoding + module versions as metadata.

    Module versions matter: quantized Linear/Conv read their ``_packed_params`` only when the
    state dict says it comes from the current module version (``state_dict._metadata``).
    """
    from safetensors.torch import save_file

    state = model.state_dict()
    tensors, encoding = flatten_state(state)
    versions = {prefix: meta["version"] for prefix, meta in getattr(state, "_metadata", {}).items()
                if "version" in meta}
    save_file(tensors, str(path), metadata={ENCODING_KEY: json.dumps(encoding), VERSIONS_KEY: json.dumps(versions)})


def load_quantized_state(path) -> dict[str, Any]:
    from collections import OrderedDict

    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    if ENCODING_KEY not in meta:
        raise HfCompressError(f"{path} has no {ENCODING_KEY} metadata: not a PyTorch INT8 model saved by hfcompress")
    state = OrderedDict(unflatten_state(load_file(str(path)), json.loads(meta[ENCODING_KEY])))
    state._metadata = OrderedDict((prefix, {"version": v}) for prefix, v in json.loads(meta.get(VERSIONS_KEY, "{}")).items())
    return state


def weight_tensors(model: nn.Module) -> Iterable[tuple[str, torch.Tensor]]:
    """Named weights of a quantized module (int8 weights as their integer values), for parameter counts.

    Quantization parameters (scales, zero points, activation ranges) are bookkeeping, not weights.
    """
    tensors, _ = flatten_state(model.state_dict())
    for name, t in tensors.items():
        leaf = name.split("::")[-1] if name.split("::")[-1] in ("scale", "zero_point") else name.rsplit(".", 1)[-1]
        if leaf in ("scale", "zero_point") or "_scale_" in name or "_zero_point_" in name:
            continue
        yield name, t

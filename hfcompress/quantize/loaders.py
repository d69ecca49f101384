"""Loaders for quantized models, registered with hfcompress's loader registry on import.

- ``onnx``: a folder with ``model.onnx`` -> an ``onnxruntime.InferenceSession`` wrapper called like a
  transformers model (fp32 or INT8; ``hfcompress.quantize.onnx.OnnxModel``)
- ``torch-int8``: a record whose quantize stage has backend ``torch`` -> the float skeleton
  (earlier stages' rebuilds applied), the same conversion replayed, then the INT8 weights
  loaded strictly from safetensors (no pickle; see ``torch_int8.flatten_state``)
- ``bitsandbytes``: ``quantization_config.quant_method == "bitsandbytes"`` -> transformers'
  ``from_pretrained``, which rebuilds the bnb Linear layers
- ``half``: a quantize stage with backend ``half`` (fp16 / bf16) -> the default PyTorch loader
  (earlier stages' rebuilds applied), then cast to the recorded dtype: a pruned skeleton is built
  in float32 and transformers 4.x loads float32 by default, and fp16/bf16 -> float32 -> back is exact

This module imports without onnxruntime or bitsandbytes: their loaders raise an error naming the
install command only when such a folder is actually loaded.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Iterator, Optional

import torch

from hfcompress.errors import ModelLoadError
from hfcompress.hub.load import LoadedModel, Loader, load_pytorch, register_loader
from hfcompress.hub.rebuild import model_class, rebuild_skeleton
from hfcompress.hub.record import CompressionRecord


def _record(config: dict) -> Optional[CompressionRecord]:
    try:
        return CompressionRecord.from_model_config(config)
    except Exception:  # a malformed record is reported by whichever loader reads it
        return None


def _quant_stage(record: Optional[CompressionRecord]):
    stages = [s for s in (record.stages if record else []) if s.method == "quantize"]
    return stages[-1] if stages else None


def _modality(config, task) -> str:
    if task is not None:
        return task.modality
    archs = getattr(config, "architectures", None) or []
    return "image" if any(a.endswith("ForImageClassification") for a in archs) else "text"


# ---------------------------------------------------------------------------------------------
# ONNX Runtime
# ---------------------------------------------------------------------------------------------
@dataclasses.dataclass
class OnnxLoadedModel(LoadedModel):
    def weight_tensors(self) -> Iterator[tuple[str, torch.Tensor]]:
        """The graph's initializers (int8 weights as stored, int4 ones widened to int8: torch has no
        4-bit dtype), so parameter counts match the file."""
        import onnx
        from onnx import numpy_helper

        graph = onnx.load(str(self.path / "model.onnx")).graph
        for init in graph.initializer:
            array = numpy_helper.to_array(init)
            if init.data_type in (onnx.TensorProto.INT4, onnx.TensorProto.UINT4):
                array = array.astype("int8")
            if array.ndim >= 1 and array.size > 1:
                yield init.name, torch.from_numpy(array.copy())


def _matches_onnx(path: Path, config: dict) -> bool:
    return (path / "model.onnx").is_file()


def _load_onnx(path: Path, task=None, source: str = "", threads: Optional[int] = None, **_) -> LoadedModel:
    from transformers import AutoConfig

    from hfcompress.quantize.onnx import load_onnx

    config = AutoConfig.from_pretrained(path)
    modality = _modality(config, task)
    model = load_onnx(path, modality, threads=threads)
    preprocessor = task.load_preprocessor(str(path)) if task is not None else None
    return OnnxLoadedModel(model=model, config=config, path=path, source=source or str(path), loader="onnx",
                           record=CompressionRecord.from_model_config(config), preprocessor=preprocessor)


# ---------------------------------------------------------------------------------------------
# PyTorch INT8 (dynamic, FX static, QAT)
# ---------------------------------------------------------------------------------------------
@dataclasses.dataclass
class TorchInt8LoadedModel(LoadedModel):
    def weight_tensors(self) -> Iterator[tuple[str, torch.Tensor]]:
        from hfcompress.quantize.torch_int8 import weight_tensors

        yield from weight_tensors(self.model)


def _matches_torch_int8(path: Path, config: dict) -> bool:
    stage = _quant_stage(_record(config))
    return stage is not None and stage.result.get("backend") == "torch"


def _load_torch_int8(path: Path, task=None, source: str = "", **_) -> LoadedModel:
    from transformers import AutoConfig

    from hfcompress.quantize import torch_int8

    config = AutoConfig.from_pretrained(path)
    record = CompressionRecord.from_model_config(config)
    stage = _quant_stage(record)
    skeleton = rebuild_skeleton(config, task, record, until=stage)
    scheme, flow = stage.result.get("scheme"), stage.result.get("flow", "ptq")
    if scheme == "dynamic":
        model = torch_int8.quantize_dynamic_linear(skeleton, per_channel=bool(stage.result.get("per_channel")))
    elif scheme == "fx-static":
        prepared = torch_int8.prepare_static(skeleton, qat=flow == "qat")
        model = torch_int8.convert_static(prepared, config)
    else:
        raise ModelLoadError(f"{path}: unknown torch quantization scheme {scheme!r} in the record")
    state = torch_int8.load_quantized_state(path / "model.safetensors")
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ModelLoadError(f"INT8 weights in {path} do not fit the rebuilt model: missing {missing[:5]}, "
                             f"unexpected {unexpected[:5]}")
    model.eval()
    preprocessor = task.load_preprocessor(str(path)) if task is not None else None
    return TorchInt8LoadedModel(model=model, config=config, path=path, source=source or str(path),
                                loader="torch-int8", record=record, preprocessor=preprocessor)


# ---------------------------------------------------------------------------------------------
# bitsandbytes
# ---------------------------------------------------------------------------------------------
def _matches_bnb(path: Path, config: dict) -> bool:
    from hfcompress.quantize.bnb import is_bnb_folder

    return is_bnb_folder(config)


def _load_bnb(path: Path, task=None, source: str = "", **_) -> LoadedModel:
    from transformers import AutoConfig

    from hfcompress.quantize.bnb import require_bnb

    require_bnb()
    config = AutoConfig.from_pretrained(path)
    model = model_class(config, task).from_pretrained(path, device_map="cpu", use_safetensors=True).eval()
    preprocessor = task.load_preprocessor(str(path)) if task is not None else None
    return LoadedModel(model=model, config=config, path=path, source=source or str(path), loader="bitsandbytes",
                       record=CompressionRecord.from_model_config(config), preprocessor=preprocessor)


# ---------------------------------------------------------------------------------------------
# Half precision (fp16, bf16)
# ---------------------------------------------------------------------------------------------
def _matches_half(path: Path, config: dict) -> bool:
    from hfcompress.quantize.half import BACKEND

    stage = _quant_stage(_record(config))
    return stage is not None and stage.result.get("backend") == BACKEND


def _load_half(path: Path, task=None, source: str = "", **kwargs) -> LoadedModel:
    from hfcompress.quantize.half import dtype_of

    loaded = load_pytorch(path, task=task, source=source, **kwargs)
    loaded.input_dtype = dtype_of(_quant_stage(loaded.record).result)
    loaded.model.to(loaded.input_dtype)
    loaded.loader = "half"
    return loaded


register_loader(Loader(name="onnx", matches=_matches_onnx, load=_load_onnx, priority=30))
register_loader(Loader(name="torch-int8", matches=_matches_torch_int8, load=_load_torch_int8, priority=20))
register_loader(Loader(name="bitsandbytes", matches=_matches_bnb, load=_load_bnb, priority=20))
register_loader(Loader(name="half", matches=_matches_half, load=_load_half, priority=20))

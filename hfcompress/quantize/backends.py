"""Quantization backends as strategy objects, one class per backend, each registered in
:mod:`hfcompress.methods.registry` under the methods it serves.

A backend says which modalities it supports (and why not, for the others), what it needs installed
(``require``), and how to quantize a loaded float model (``quantize``) into a :class:`Quantized`: the
stage result, the transformers config to store, and either the quantized ``model`` (saved with
``save_pretrained``) or a ``write_weights(folder)`` writer. :func:`hfcompress.quantize.api.quantize`
saves every one of them the same way (:func:`hfcompress.hub.save.save_compressed`), with the record and a
model card; the matching loaders are in :mod:`hfcompress.quantize.loaders`.
"""

from __future__ import annotations

import copy
import dataclasses
import shutil
from pathlib import Path
from typing import Any, Callable, Optional

import torch

from hfcompress.errors import HfCompressError
from hfcompress.quantize.config import QuantizeConfig


@dataclasses.dataclass
class Quantized:
    result: dict[str, Any]
    config: Any  # the transformers config written to config.json (with the record attached)
    model: Any = None  # saved with save_pretrained when write_weights is None
    write_weights: Optional[Callable[[Path], None]] = None


class QuantizationBackend:
    modalities: tuple[str, ...] = ("text", "image")
    why_not: dict[str, str] = {}  # modality -> why this backend does not apply to it
    linear_models = False  # True: applies to any model whose work is in nn.Linear (a ViT too)

    def check_supported(self, method: str, modality: str, model_type: Optional[str] = None) -> None:
        from hfcompress.models.families import _BY_TYPE

        adapter = _BY_TYPE.get(model_type)
        if self.linear_models and modality == "image" and adapter is not None and adapter.modality == "image" \
                and not adapter.staged:
            return  # a vision transformer (ViT): its work is in nn.Linear layers, as a text encoder's
        if modality not in self.modalities:
            family = f" ({adapter.name})" if adapter is not None else ""
            raise HfCompressError(f"method {method!r} is not supported for {modality} models{family}: "
                                  f"{self.why_not.get(modality, 'supported for ' + ', '.join(self.modalities))}")

    def require(self) -> None:
        """Raise HfCompressError naming the install command when a dependency is missing."""

    def quantize(self, loaded, task, cfg: QuantizeConfig, work: Path, callbacks=None) -> Quantized:
        raise NotImplementedError  # pragma: no cover


def calibration_batches(task, loaded, cfg: QuantizeConfig):
    """Collated batches (no labels) of the task's train split, a seeded sample, for calibration."""
    from hfcompress.tasks.batches import batches

    return batches(task, task.train_split, loaded.preprocessor, batch_size=cfg.calibration_batch_size,
                   limit=cfg.calibration_samples, mirror=cfg.datasets_mirror, seed=cfg.seed,
                   max_length=cfg.max_length, labels=False)


def torch_int8_writer(model) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        from hfcompress.quantize import torch_int8

        torch_int8.save_quantized_module(model, folder / "model.safetensors")

    return write


class OnnxRuntime(QuantizationBackend):
    """``onnx-fp32`` / ``onnx-dynamic`` / ``onnx-static``: ONNX export, graph fusion, ORT INT8."""

    def require(self):
        from hfcompress.quantize.onnx import require_onnxruntime

        require_onnxruntime()

    def quantize(self, loaded, task, cfg, work, callbacks=None):
        from hfcompress.quantize.onnx import quantize_onnx

        if cfg.method == "onnx-dynamic" and task.modality == "image":
            # allowed (the weights shrink 4x), but measured slow: ONNX Runtime runs dynamic Conv INT8 as
            # DynamicQuantizeLinear + ConvInteger + Cast/Mul/Add per conv, without a fused CPU kernel
            # (benchmarks/results/int8_formats_cifar10.md)
            print("quantize: onnx-dynamic on a convolutional network is usually SLOWER than fp32 on ONNX Runtime "
                  "(no fused dynamic Conv kernel); onnx-static is the fast INT8 for images", flush=True)
        out = work / "onnx"
        out.mkdir()
        result = quantize_onnx(loaded, task, cfg, out)

        def write(folder: Path) -> None:
            for entry in out.iterdir():
                shutil.copy2(entry, folder / entry.name)

        return Quantized(result, copy.deepcopy(loaded.config), write_weights=write)


class TorchAO(QuantizationBackend):
    def require(self):
        from hfcompress.quantize.torch_int8 import require_torch_ao

        require_torch_ao()


class TorchDynamic(TorchAO):
    modalities = ("text",)
    linear_models = True
    why_not = {"image": "dynamic INT8 quantizes nn.Linear layers only and a convolutional network's work is in "
                        "its convolutions; use --method torch-static (FX, calibrated) or onnx-static"}

    def quantize(self, loaded, task, cfg, work, callbacks=None):
        from hfcompress.quantize import torch_int8

        per_channel = bool(cfg.per_channel)
        model = torch_int8.quantize_dynamic_linear(loaded.model, per_channel=per_channel)
        result = {"backend": "torch", "scheme": "dynamic", "flow": "ptq", "per_channel": per_channel,
                  "engine": torch_int8.ENGINE}
        return Quantized(result, copy.deepcopy(loaded.config), write_weights=torch_int8_writer(model))


class TorchStatic(TorchAO):
    modalities = ("image",)
    why_not = {"text": "FX static quantization needs a symbolically traceable model and static activation "
                       "ranges; transformer encoders are neither here; use --method torch-dynamic or onnx-static"}

    def quantize(self, loaded, task, cfg, work, callbacks=None):
        from hfcompress.quantize import torch_int8

        model = torch_int8.quantize_static_resnet(loaded.model, calibration_batches(task, loaded, cfg),
                                                  calibration=cfg.calibration)
        result = {"backend": "torch", "scheme": "fx-static", "flow": "ptq", "engine": torch_int8.ENGINE,
                  "calibration": {"method": cfg.calibration or "histogram", "samples": cfg.calibration_samples}}
        return Quantized(result, copy.deepcopy(loaded.config), write_weights=torch_int8_writer(model))


class QuantizationAwareTraining(TorchAO):
    def quantize(self, loaded, task, cfg, work, callbacks=None):
        from hfcompress.quantize.qat import quantization_aware_training

        model, result = quantization_aware_training(loaded, task, cfg, callbacks=callbacks)
        return Quantized(result, copy.deepcopy(loaded.config), write_weights=torch_int8_writer(model))


class BitsAndBytes(QuantizationBackend):
    modalities = ("text",)
    linear_models = True
    why_not = {"image": "bitsandbytes replaces nn.Linear layers only and a convolutional network's work is in "
                        "its convolutions; use --method torch-static or onnx-static"}

    def require(self):
        from hfcompress.quantize.bnb import require_bnb

        require_bnb()

    def quantize(self, loaded, task, cfg, work, callbacks=None):
        from hfcompress.hub.rebuild import stages_to_rebuild
        from hfcompress.quantize.bnb import bnb_config

        rebuilt = [s.method for s in stages_to_rebuild(loaded.record)]
        if rebuilt:
            raise HfCompressError(f"{cfg.method} reloads the model folder with transformers' from_pretrained, "
                                  f"but {loaded.path} needs hfcompress's skeleton rebuild ({', '.join(rebuilt)}); "
                                  "use --method torch-dynamic or onnx-dynamic for this model")
        if cfg.method == "bnb-4bit":
            narrow = [(n, m.in_features) for n, m in loaded.model.named_modules()
                      if isinstance(m, torch.nn.Linear) and "classifier" not in n and m.in_features < 64]
            if narrow:  # bitsandbytes' CPU kernels fail with a reshape error on these
                raise HfCompressError(f"bnb-4bit quantizes in blocks of 64 inputs; {narrow[0][0]} has in_features "
                                      f"{narrow[0][1]} < 64 (and {len(narrow) - 1} more layers); use bnb-8bit")
        # The classifier head stays in float (llm_int8_skip_modules): it is tiny and its outputs are the logits.
        model = task.model_class.from_pretrained(loaded.path, quantization_config=bnb_config(cfg), device_map="cpu")
        result = {"backend": "bitsandbytes",
                  "scheme": "llm.int8" if cfg.method == "bnb-8bit" else cfg.bnb_4bit_quant_type,
                  "compute_dtype": cfg.bnb_compute_dtype}
        return Quantized(result, model.config, model=model)


class HalfPrecision(QuantizationBackend):
    def quantize(self, loaded, task, cfg, work, callbacks=None):
        from hfcompress.quantize.half import cast

        result = cast(loaded.model, cfg.method)  # save_pretrained then records the dtype in config.json
        return Quantized(result, loaded.model.config, model=loaded.model)

"""``quantize(cfg)``: one entry point for every backend, writing one self-describing folder.

Order of work, so that mistakes cost nothing: validate the config (typed), check that the
method fits the task's modality and that its optional dependency is installed, load the float
model through hfcompress's loader (so pruned/distilled models work too), quantize, and publish
the output folder atomically with the compression record in its config.json.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

from hfcompress.errors import HfCompressError
from hfcompress.quantize.config import HALF_METHODS, IMAGE_METHODS, TEXT_METHODS, QuantizeConfig

RECORD_METHOD = "quantize"

_WHY_UNSUPPORTED = {
    ("image", "torch-dynamic"): "dynamic INT8 quantizes nn.Linear layers only and a ResNet is convolutional; "
                                "use --method torch-static (FX, calibrated) or onnx-static",
    ("image", "bnb-8bit"): "bitsandbytes replaces nn.Linear layers only and a ResNet is convolutional; "
                           "use --method torch-static or onnx-static",
    ("image", "bnb-4bit"): "bitsandbytes replaces nn.Linear layers only and a ResNet is convolutional; "
                           "use --method torch-static or onnx-static",
    ("text", "torch-static"): "FX static quantization needs a symbolically traceable model and static activation "
                              "ranges; BERT-family models are neither here; use --method torch-dynamic or onnx-static",
}


def check_supported(method: str, modality: str) -> None:
    """Raise a clear error for a method that does not apply to this kind of model."""
    allowed = IMAGE_METHODS if modality == "image" else TEXT_METHODS
    if method != "auto" and method not in allowed:
        why = _WHY_UNSUPPORTED.get((modality, method), f"supported for {modality} models: {', '.join(allowed)}")
        raise HfCompressError(f"method {method!r} is not supported for {modality} models: {why}")


def check_dependencies(method: str) -> None:
    if method.startswith("onnx"):
        from hfcompress.quantize.onnx import require_onnxruntime

        require_onnxruntime()
    elif method.startswith("bnb"):
        from hfcompress.quantize.bnb import require_bnb

        require_bnb()


def quantize(cfg: QuantizeConfig) -> dict[str, Any]:
    """Quantize ``cfg.model`` with ``cfg.method``; write ``cfg.output_dir``; return a summary."""
    from hfcompress.evaluation.efficiency import set_threads
    from hfcompress.tasks import get_task

    task = get_task(cfg.task)
    check_supported(cfg.method, task.modality)
    if cfg.method == "auto":
        from hfcompress.quantize.auto import quantize_auto

        return quantize_auto(cfg, task)
    check_dependencies(cfg.method)
    set_threads(cfg.threads)

    import hfcompress
    from hfcompress.hub.record import CompressionRecord
    from hfcompress.hub.save import atomic_directory

    loaded = hfcompress.load(cfg.model, task=task)
    if (loaded.record is not None and RECORD_METHOD in loaded.record.methods) or loaded.loader != "pytorch":
        raise HfCompressError(f"{cfg.model} is already quantized or not a PyTorch float model (loader "
                              f"{loaded.loader!r}); quantize the float model it came from")
    base = loaded.record or CompressionRecord(base_model=cfg.model, task=task.name)
    start = time.perf_counter()
    result: dict[str, Any]
    with atomic_directory(cfg.output_dir) as tmp:
        if cfg.method.startswith("onnx"):
            from hfcompress.quantize.onnx import quantize_onnx

            result = quantize_onnx(loaded, task, cfg, tmp)
            record = base.with_stage(RECORD_METHOD, cfg.to_dict(), result)
            _save_config(loaded, record, tmp)
        elif cfg.method in HALF_METHODS:
            from hfcompress.quantize.half import cast

            model = loaded.model
            result = cast(model, cfg.method)
            record = base.with_stage(RECORD_METHOD, cfg.to_dict(), result)
            record.attach(model.config)
            model.save_pretrained(tmp, safe_serialization=True)  # tensors in the new dtype
            if loaded.preprocessor is not None:
                loaded.preprocessor.save_pretrained(tmp)
        elif cfg.method.startswith("bnb"):
            from hfcompress.quantize.bnb import quantize_bnb

            result = quantize_bnb(loaded, task, cfg, base, tmp)
        else:
            from hfcompress.quantize import torch_int8

            if cfg.method == "torch-dynamic":
                model = torch_int8.quantize_dynamic_linear(loaded.model, per_channel=bool(cfg.per_channel))
                result = {"backend": "torch", "scheme": "dynamic", "flow": "ptq", "per_channel": bool(cfg.per_channel),
                          "engine": torch_int8.ENGINE}
            elif cfg.method == "torch-static":
                model = torch_int8.quantize_static_resnet(loaded.model, calibration_batches(task, loaded, cfg),
                                                          calibration=cfg.calibration)
                result = {"backend": "torch", "scheme": "fx-static", "flow": "ptq", "engine": torch_int8.ENGINE,
                          "calibration": {"method": cfg.calibration or "histogram", "samples": cfg.calibration_samples}}
            else:  # qat
                from hfcompress.quantize.qat import quantization_aware_training

                model, result = quantization_aware_training(loaded, task, cfg)
            save_torch(model, loaded, base.with_stage(RECORD_METHOD, cfg.to_dict(), result), tmp)
    result["seconds"] = round(time.perf_counter() - start, 2)
    return {"output_dir": str(cfg.output_dir), "method": cfg.method, **result}


def _save_config(loaded, record, folder: Path) -> None:
    """config.json (with the record) + preprocessor; the config is written last by atomic_directory."""
    config = copy.deepcopy(loaded.config)
    record.attach(config)
    config.save_pretrained(folder)
    if loaded.preprocessor is not None:
        loaded.preprocessor.save_pretrained(folder)


def save_torch(model, loaded, record, folder: Path) -> None:
    """A PyTorch INT8 model folder: config.json with the record, INT8 safetensors, preprocessor."""
    from hfcompress.quantize import torch_int8

    _save_config(loaded, record, folder)
    torch_int8.save_quantized_module(model, folder / "model.safetensors")


def calibration_batches(task, loaded, cfg: QuantizeConfig):
    """Collated batches of the task's train split (a seeded sample) for activation-range calibration."""
    from torch.utils.data import DataLoader

    raw = task.load(task.train_split, limit=cfg.calibration_samples, mirror=cfg.datasets_mirror,
                    shuffle_seed=cfg.seed)
    data = task.preprocess(raw, loaded.preprocessor, max_length=cfg.max_length, train=False)
    for batch in DataLoader(data, batch_size=cfg.calibration_batch_size, collate_fn=task.collator(loaded.preprocessor)):
        batch.pop("labels", None)
        yield batch

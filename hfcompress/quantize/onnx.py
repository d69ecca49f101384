"""ONNX Runtime through Optimum: export, optional graph optimisation, dynamic or static INT8.

Everything here is Optimum's API (``onnx_export_from_model``, ``ORTOptimizer``,
``ORTQuantizer``, ``AutoQuantizationConfig``, ``AutoCalibrationConfig``); hfcompress adds the
task data for calibration, a temporary working directory for every intermediate file (Optimum
writes ``augmented_model.onnx`` into the current directory unless told otherwise), and an
output folder that loads with both ``ORTModelFor...`` and ``hfcompress.load``: ``model.onnx``,
``config.json`` carrying the compression record, the preprocessor and Optimum's ``ort_config.json``.

Needs the ``onnx`` extra (optimum-onnx), which pins transformers<4.58: ``bash scripts/setup.sh onnx``.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Any, Optional

from hfcompress.errors import HfCompressError
from hfcompress.quantize.config import QuantizeConfig

INSTALL_HINT = "the ONNX methods need optimum-onnx: run `bash scripts/setup.sh onnx` and use .venv-onnx"
ONNX_FILE = "model.onnx"


def require_optimum():
    try:
        import optimum.onnxruntime as ort  # noqa: F401
    except ImportError as exc:
        raise HfCompressError(f"{INSTALL_HINT} ({exc})") from None
    return ort


require_onnxruntime = require_optimum  # renamed when the ONNX path moves off Optimum


def ort_model_class(modality: str):
    ort = require_optimum()
    return ort.ORTModelForImageClassification if modality == "image" else ort.ORTModelForSequenceClassification


def isa_preset(isa: str) -> str:
    """The ``AutoQuantizationConfig`` preset for this CPU ('auto': from /proc/cpuinfo flags)."""
    if isa != "auto":
        return isa
    import platform

    from hfcompress.evaluation.efficiency import cpu_flags

    if platform.machine().lower() in ("aarch64", "arm64"):
        return "arm64"
    flags = set(cpu_flags())
    if "avx512_vnni" in flags:
        return "avx512_vnni"
    if "avx512f" in flags:
        return "avx512"
    return "avx2"


@contextlib.contextmanager
def _float_default_tensor_type():
    """Quantize an ORTOptimizer output: pass ``DefaultTensorType=FLOAT`` to ONNX Runtime's quantizer.

    Measured here: quantizing an O2-optimised graph fails in ONNX Runtime's shape inference
    (fused ops with no type information); the quantizer's ``DefaultTensorType`` extra option
    fixes it, but ``ORTQuantizer.quantize`` builds ``extra_options`` itself and has no way to
    pass it. So the quantizer classes it instantiates are wrapped for the duration of the call.
    """
    import onnx
    import optimum.onnxruntime.quantization as q

    saved = q.ONNXQuantizer, q.QDQQuantizer

    def wrap(cls):
        def make(**kwargs):
            kwargs["extra_options"] = {**kwargs.get("extra_options", {}), "DefaultTensorType": onnx.TensorProto.FLOAT}
            return cls(**kwargs)

        return make

    q.ONNXQuantizer, q.QDQQuantizer = wrap(saved[0]), wrap(saved[1])
    try:
        yield
    finally:
        q.ONNXQuantizer, q.QDQQuantizer = saved


def calibration_dataset(task, preprocessor, cfg: QuantizeConfig):
    """A ``datasets.Dataset`` of model inputs only, as numpy, for ONNX Runtime's calibrators."""
    import datasets
    import numpy as np

    raw = task.load(task.train_split, limit=cfg.calibration_samples, mirror=cfg.datasets_mirror,
                    shuffle_seed=cfg.seed)
    data = task.preprocess(raw, preprocessor, max_length=cfg.max_length, train=False)
    if len(data) == 0:
        raise HfCompressError("onnx-static needs calibration data: the task's train split gave no examples")
    if task.modality == "image":
        pixels = np.stack([data[i]["pixel_values"].numpy() for i in range(len(data))]).astype(np.float32)
        return datasets.Dataset.from_dict({"pixel_values": pixels}).with_format("numpy")
    # ONNX Runtime's calibrators stack the intermediate outputs of all samples, so every sample
    # must have the same length: pad to the longest one in the calibration set.
    keep = [c for c in ("input_ids", "attention_mask", "token_type_ids") if c in data.column_names]
    width = max(len(ids) for ids in data["input_ids"])
    pad_id = getattr(preprocessor, "pad_token_id", None) or 0
    padded = {c: [list(row) + [pad_id if c == "input_ids" else 0] * (width - len(row)) for row in data[c]]
              for c in keep}
    return datasets.Dataset.from_dict({c: np.asarray(v, dtype=np.int64) for c, v in padded.items()}).with_format("numpy")


def calibration_config(dataset, cfg: QuantizeConfig):
    from optimum.onnxruntime import AutoCalibrationConfig

    if cfg.calibration in (None, "minmax"):
        return AutoCalibrationConfig.minmax(dataset)
    if cfg.calibration == "percentile":
        return AutoCalibrationConfig.percentiles(dataset, percentile=cfg.percentile)
    return AutoCalibrationConfig.entropy(dataset)


def quantize_onnx(loaded, task, cfg: QuantizeConfig, out_dir: Path) -> dict[str, Any]:
    """Export ``loaded.model`` and write ``out_dir/model.onnx`` (fp32, or INT8); return the stage result.

    ``out_dir`` is the temporary folder of an :func:`atomic_directory`; intermediates go to a
    separate temporary directory that is always removed.
    """
    require_optimum()
    from optimum.exporters.onnx import onnx_export_from_model
    from optimum.onnxruntime import AutoOptimizationConfig, AutoQuantizationConfig, ORTOptimizer, ORTQuantizer

    ort_task = "image-classification" if task.modality == "image" else "text-classification"
    result: dict[str, Any] = {"backend": "onnxruntime", "format": "onnx", "file": ONNX_FILE}
    with tempfile.TemporaryDirectory(prefix="hfcompress-onnx-") as work:
        work = Path(work)
        onnx_export_from_model(loaded.model.eval(), work / "export", task=ort_task, do_validation=False)
        current = work / "export" / ONNX_FILE
        if cfg.optimization_level:
            optimizer = ORTOptimizer.from_pretrained(work / "export")
            optimizer.optimize(AutoOptimizationConfig.with_optimization_level(cfg.optimization_level),
                               work / "optimized")
            current = next((work / "optimized").glob("*.onnx"))
            result["optimization_level"] = cfg.optimization_level
        if cfg.method in ("onnx-dynamic", "onnx-static"):
            static = cfg.method == "onnx-static"
            preset = isa_preset(cfg.isa)
            kwargs = {} if cfg.per_channel is None else {"per_channel": cfg.per_channel}
            if static and task.modality == "text":
                # Static INT8 of text models quantizes only the matrix products. The default operator
                # list includes Add, and BERT's additive attention mask (values near float32's minimum)
                # flows through an Add: its range breaks histogram calibration (percentile, entropy:
                # "too many bins") and would waste the int8 grid of the attention scores under min-max.
                kwargs["operators_to_quantize"] = ["MatMul", "Gemm"]
            qconfig = getattr(AutoQuantizationConfig, preset)(is_static=static, **kwargs)
            quantizer = ORTQuantizer.from_pretrained(current.parent, file_name=current.name)
            ranges: Optional[dict] = None
            if static:
                dataset = calibration_dataset(task, loaded.preprocessor, cfg)
                ranges = quantizer.fit(dataset=dataset, calibration_config=calibration_config(dataset, cfg),
                                       onnx_augmented_model_name=work / "augmented_model.onnx",
                                       operators_to_quantize=qconfig.operators_to_quantize, batch_size=1)
                result["calibration"] = {"method": cfg.calibration or "minmax", "samples": len(dataset)}
            patch = _float_default_tensor_type() if cfg.optimization_level else contextlib.nullcontext()
            with patch:
                quantizer.quantize(quantization_config=qconfig, save_dir=work / "quantized",
                                   calibration_tensors_range=ranges)
            current = next((work / "quantized").glob("*_quantized.onnx"))
            shutil.copy2(work / "quantized" / "ort_config.json", out_dir / "ort_config.json")
            result.update({"scheme": "static" if static else "dynamic", "isa_preset": preset,
                           "per_channel": qconfig.per_channel, "format_qdq": str(qconfig.format),
                           "weights_dtype": str(qconfig.weights_dtype),
                           "operators": list(map(str, qconfig.operators_to_quantize))})
        else:
            result["scheme"] = "fp32"
        shutil.copy2(current, out_dir / ONNX_FILE)
        for extra in current.parent.glob(current.name + "_data"):  # external weights (models > 2 GB)
            shutil.copy2(extra, out_dir / extra.name)
    return result


def load_onnx(path: Path, modality: str, threads: Optional[int] = None):
    """``ORTModelFor...`` on ``path/model.onnx`` with as many intra-op threads as torch uses."""
    cls = ort_model_class(modality)  # first: names the install command if optimum is missing
    import onnxruntime
    import torch

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    return cls.from_pretrained(path, file_name=ONNX_FILE, session_options=options, provider="CPUExecutionProvider")

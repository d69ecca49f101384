"""The ``quantize`` recipe section: one typed config for every quantization backend.

Like optimum's ``AutoQuantizationConfig`` / ``AutoCalibrationConfig``, the config names a
*method* and a few knobs; backend-specific objects (``QuantizationConfig``, ``QConfigMapping``,
``BitsAndBytesConfig``) are built from it by the backend module. Every cross-field mistake (a
calibration method for a dynamic method, QAT epochs for a post-training method ...) is reported
with the field's name before any model is loaded or any file written. The whole config is saved
in the compression record of the output model.
"""

from __future__ import annotations

import dataclasses
from typing import Literal, Optional, Union

from hfcompress.config.base import Config
from hfcompress.errors import ConfigError
from hfcompress.tasks.spec import TaskSpec

Method = Literal["auto", "onnx-fp32", "onnx-dynamic", "onnx-static", "torch-dynamic", "torch-static", "qat",
                 "bnb-8bit", "bnb-4bit", "fp16", "bf16"]
METHODS: tuple[str, ...] = Method.__args__  # type: ignore[attr-defined]

# Which methods fit which modality (see hfcompress.quantize.api.check_supported for the reasons).
TEXT_METHODS = ("onnx-fp32", "onnx-dynamic", "onnx-static", "torch-dynamic", "qat", "bnb-8bit", "bnb-4bit",
                "fp16", "bf16")
IMAGE_METHODS = ("onnx-fp32", "onnx-dynamic", "onnx-static", "torch-static", "qat", "fp16", "bf16")
HALF_METHODS = ("fp16", "bf16")


@dataclasses.dataclass
class QuantizeConfig(Config):
    """Quantize ``model`` for ``task`` with ``method``; write the result to ``output_dir``.

    Methods:
      onnx-fp32     export to ONNX (optionally graph-optimised), no quantization: the ORT baseline
      onnx-dynamic  ONNX Runtime dynamic INT8 (weights int8, activations quantized on the fly)
      onnx-static   ONNX Runtime static INT8 (activation ranges calibrated on task data)
      torch-dynamic PyTorch dynamic INT8 of every nn.Linear (BERT family)
      torch-static  PyTorch FX static post-training INT8 with calibration (ResNet)
      qat           quantization-aware fine-tuning, then conversion (BERT: dynamic INT8, ResNet: FX static)
      bnb-8bit      bitsandbytes LLM.int8 Linear layers (BERT family)
      bnb-4bit      bitsandbytes NF4/FP4 Linear layers (BERT family)
      fp16, bf16    every floating weight cast to float16 / bfloat16 (a baseline: half the size, no calibration)
      auto          measure the candidates for this model on this machine, keep the fastest correct one
    """

    task: Union[str, TaskSpec]  # a built-in task name, or your data: {dataset: ..., text_columns: [...], ...}
    model: str
    output_dir: str
    method: Method = "auto"
    # -- shared ---------------------------------------------------------------------------
    per_channel: Optional[bool] = None  # None: the backend's default (ORT: per channel; torch dynamic: per tensor)
    max_length: int = 128
    threads: Optional[int] = None
    datasets_mirror: Optional[str] = None
    seed: int = 42
    # -- calibration (onnx-static, torch-static) ----------------------------------------------
    # None: the backend's default (ONNX Runtime: minmax; torch: x86 default HistogramObserver, "histogram")
    calibration: Optional[Literal["minmax", "percentile", "entropy", "histogram"]] = None
    calibration_samples: int = 128
    calibration_batch_size: int = 8
    percentile: float = 99.999
    # -- ONNX Runtime ----------------------------------------------------------------------
    optimization_level: Optional[Literal["O1", "O2", "O3"]] = None
    isa: Literal["auto", "avx2", "avx512", "avx512_vnni", "arm64"] = "auto"
    onnx_format: Optional[Literal["qdq", "qoperator"]] = None  # onnx-static's graph format; None: QDQ
    # onnx-static on text: store the embedding tables int8 too (their Gather quantized, as onnx-dynamic
    # does), so that the file shrinks like dynamic INT8's; False keeps them float. None: False
    quantize_embeddings: Optional[bool] = None
    # onnx-dynamic / onnx-static on text: 4 stores the word-embedding table in 4 bits (blocks of 64
    # along the hidden axis, one scale each: ONNX Runtime's GatherBlockQuantized), half of int8's
    # size, so a larger vocabulary fits the same file (at O2 the embeddings then stay unfused).
    # None: the method's default (8 bits for onnx-dynamic and quantize_embeddings, float otherwise)
    embedding_bits: Optional[Literal[4, 8]] = None
    # -- bitsandbytes ----------------------------------------------------------------------
    bnb_4bit_quant_type: Literal["nf4", "fp4"] = "nf4"
    bnb_compute_dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    bnb_double_quant: bool = False
    llm_int8_threshold: float = 6.0
    # -- QAT (a short fine-tuning with fake quantization) ---------------------------------------
    epochs: float = 1.0
    learning_rate: float = 2e-5
    batch_size: int = 32
    max_train_samples: Optional[int] = None
    # -- auto --------------------------------------------------------------------------------
    auto_candidates: Optional[list[str]] = None  # default: every method this modality supports, without training
    auto_max_accuracy_drop: float = 0.005  # a candidate is "correct" if its metric drops less than this
    auto_eval_samples: int = 200
    auto_batch_size: int = 1  # latency at this batch size decides

    def validate(self, where: str) -> None:
        for name in ("max_length", "calibration_samples", "calibration_batch_size", "batch_size",
                     "auto_eval_samples", "auto_batch_size"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{where}.{name}: must be > 0, got {getattr(self, name)!r}")
        for name in ("threads", "max_train_samples"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise ConfigError(f"{where}.{name}: must be > 0, got {getattr(self, name)!r}")
        if not 0 < self.percentile <= 100:
            raise ConfigError(f"{where}.percentile: must be in (0, 100], got {self.percentile}")
        if self.epochs <= 0 or self.learning_rate <= 0:
            raise ConfigError(f"{where}.{'epochs' if self.epochs <= 0 else 'learning_rate'}: must be > 0")
        if not 0 <= self.auto_max_accuracy_drop < 1:
            raise ConfigError(f"{where}.auto_max_accuracy_drop: must be in [0, 1), got {self.auto_max_accuracy_drop}")
        if self.optimization_level is not None and not self.method.startswith("onnx") and self.method != "auto":
            raise ConfigError(f"{where}.optimization_level: only ONNX methods run the ORT graph optimizer "
                              f"(method is {self.method!r})")
        if self.calibration is not None and self.method not in ("onnx-static", "torch-static", "auto"):
            raise ConfigError(f"{where}.calibration: only static methods (onnx-static, torch-static) calibrate "
                              f"activation ranges (method is {self.method!r})")
        if self.method in HALF_METHODS and self.per_channel is not None:
            raise ConfigError(f"{where}.per_channel: {self.method} casts every weight to one dtype; there are no "
                              "per-channel or per-tensor scales to choose")
        if self.method == "torch-static" and self.calibration in ("percentile", "entropy"):
            raise ConfigError(f"{where}.calibration: torch-static supports 'histogram' (torch's x86 default) or "
                              f"'minmax'; {self.calibration!r} is an ONNX Runtime calibrator (use method onnx-static)")
        if self.method == "onnx-static" and self.calibration == "histogram":
            raise ConfigError(f"{where}.calibration: onnx-static supports minmax, percentile or entropy")
        if self.quantize_embeddings is not None and self.method not in ("onnx-static", "auto"):
            raise ConfigError(f"{where}.quantize_embeddings: only onnx-static chooses it (onnx-dynamic always stores "
                              f"the embedding tables int8; method is {self.method!r})")
        if self.embedding_bits is not None and self.method not in ("onnx-dynamic", "onnx-static"):
            raise ConfigError(f"{where}.embedding_bits: only onnx-dynamic and onnx-static store the embedding "
                              f"tables quantized (method is {self.method!r})")
        if self.embedding_bits == 8 and self.method == "onnx-static" and not self.quantize_embeddings:
            raise ConfigError(f"{where}.embedding_bits: onnx-static keeps the tables float unless "
                              "quantize_embeddings is true; set it for 8-bit tables")
        for cand in self.auto_candidates or []:
            if cand not in METHODS or cand == "auto":
                raise ConfigError(f"{where}.auto_candidates: unknown method {cand!r}; choose from "
                                  f"{[m for m in METHODS if m != 'auto']}")

    @property
    def is_static(self) -> bool:
        return self.method in ("onnx-static", "torch-static")

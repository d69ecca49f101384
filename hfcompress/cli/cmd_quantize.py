"""``hfcompress quantize``: ONNX Runtime, PyTorch INT8/QAT, bitsandbytes or fp16/bf16 baselines;
``--method auto`` measures and picks."""

from __future__ import annotations

import argparse
import json

from hfcompress.cli.common import add_common, config_from

FIELDS = ["task", "model", "output_dir", "method", "per_channel", "max_length", "threads", "datasets_mirror", "seed",
          "calibration", "calibration_samples", "calibration_batch_size", "percentile", "optimization_level", "isa", "onnx_format",
          "bnb_4bit_quant_type", "bnb_compute_dtype", "bnb_double_quant", "llm_int8_threshold", "epochs",
          "learning_rate", "batch_size", "max_train_samples", "auto_candidates", "auto_max_accuracy_drop",
          "auto_eval_samples", "auto_batch_size"]


def run(args: argparse.Namespace) -> int:
    from hfcompress.quantize import QuantizeConfig, quantize

    cfg = config_from(args, "quantize", QuantizeConfig, FIELDS)
    result = quantize(cfg)
    print(json.dumps(result, indent=2, default=str))
    print(f"saved quantized model to {cfg.output_dir} (evaluate it with: hfcompress evaluate --task {cfg.task} "
          f"--model {cfg.output_dir})")
    return 0


def register(sub) -> None:
    from hfcompress.quantize.config import METHODS

    p = sub.add_parser("quantize", help="INT8/4-bit quantization (ONNX Runtime, PyTorch, QAT, "
                                                 "bitsandbytes) and fp16/bf16 baselines")
    add_common(p)
    p.add_argument("--output-dir", dest="output_dir")
    p.add_argument("--method", choices=METHODS, help="default auto: measure the candidates here, keep the fastest "
                                                     "that keeps the metric")
    p.add_argument("--per-channel", dest="per_channel", action="store_true", default=None)
    p.add_argument("--per-tensor", dest="per_channel", action="store_false")
    p.add_argument("--seed", type=int)
    g = p.add_argument_group("calibration (onnx-static, torch-static)")
    g.add_argument("--calibration", choices=["minmax", "percentile", "entropy"])
    g.add_argument("--calibration-samples", dest="calibration_samples", type=int)
    g.add_argument("--calibration-batch-size", dest="calibration_batch_size", type=int)
    g.add_argument("--percentile", type=float)
    g = p.add_argument_group("ONNX Runtime")
    g.add_argument("--optimization-level", dest="optimization_level", choices=["O1", "O2", "O3"])
    g.add_argument("--isa", choices=["auto", "avx2", "avx512", "avx512_vnni", "arm64"])
    g.add_argument("--onnx-format", dest="onnx_format", choices=["qdq", "qoperator"],
                   help="onnx-static graph format (default qdq)")
    g = p.add_argument_group("bitsandbytes")
    g.add_argument("--bnb-4bit-quant-type", dest="bnb_4bit_quant_type", choices=["nf4", "fp4"])
    g.add_argument("--bnb-compute-dtype", dest="bnb_compute_dtype", choices=["float32", "bfloat16", "float16"])
    g.add_argument("--bnb-double-quant", dest="bnb_double_quant", action="store_true", default=None)
    g.add_argument("--llm-int8-threshold", dest="llm_int8_threshold", type=float)
    g = p.add_argument_group("QAT")
    g.add_argument("--epochs", type=float)
    g.add_argument("--learning-rate", "--lr", dest="learning_rate", type=float)
    g.add_argument("--batch-size", dest="batch_size", type=int)
    g.add_argument("--max-train-samples", dest="max_train_samples", type=int)
    g = p.add_argument_group("auto")
    g.add_argument("--auto-candidates", dest="auto_candidates", type=lambda s: s.split(","),
                   help="comma-separated methods to measure")
    g.add_argument("--auto-max-accuracy-drop", dest="auto_max_accuracy_drop", type=float)
    g.add_argument("--auto-eval-samples", dest="auto_eval_samples", type=int)
    g.add_argument("--auto-batch-size", dest="auto_batch_size", type=int)
    p.set_defaults(func=run)

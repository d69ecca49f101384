"""ONNX Runtime: export, graph fusion, dynamic or static INT8, without Optimum.

Built on pieces that follow no transformers version:

- export: ``torch.onnx.export(dynamo=False)`` (the TorchScript exporter), opset 17, inputs named as
  the model's forward arguments, output ``logits``, dynamic batch and sequence axes. Text models
  are exported with eager attention: ONNX Runtime's attention fusion matches the eager
  softmax(QK^T)V pattern, not SDPA's (measured with onnxruntime 1.32 on transformers 5.x: zero
  Attention nodes fused from an SDPA export).
- graph optimisation (``optimization_level``), the levels Optimum's O1-O3 wrap:
    O1  ONNX Runtime's basic graph optimisations only (constant folding, redundant nodes,
        Conv+BN/Add/Mul folding), persisted; no transformer fusions
    O2  text: O1 + ``onnxruntime.transformers.optimizer`` fusions (Attention, EmbedLayerNormalization,
        SkipLayerNormalization, BiasGelu ...), with explicit ``num_heads`` / ``hidden_size``;
        image: ONNX Runtime's extended level persisted (Conv+activation -> FusedConv)
    O3  O2 + GELU approximation (FastGelu; text only, slightly changes the numbers)
  ONNX Runtime applies its own extended/layout optimisations again when a session starts, so the
  persisted graph stays portable (basic level) wherever that is enough. Fused node counts go
  into the stage result (``fused``) and are printed.
- quantization: ``onnxruntime.quantization.quantize_dynamic`` / ``quantize_static`` with a
  ``CalibrationDataReader`` over the task's train split (MinMax / Percentile / Entropy), QDQ
  (default) or QOperator (``onnx_format``); activation/weight types and ``reduce_range`` from the
  CPU (``isa``), following ONNX Runtime's guidance for CPU inference.

Output folder: ``model.onnx``, ``config.json`` (with the compression record), the preprocessor.
hfcompress loads it with a small ``onnxruntime.InferenceSession`` wrapper (:func:`load_onnx`); the
folder is also a plain Optimum folder (``ORTModelFor...from_pretrained(folder, file_name="model.onnx")``)
wherever optimum-onnx is installed with a transformers it supports.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import tempfile
import warnings
from pathlib import Path
from typing import Any, Optional

import torch

from hfcompress.errors import HfCompressError
from hfcompress.quantize.config import QuantizeConfig

INSTALL_HINT = 'the ONNX methods need onnxruntime and onnx: pip install -e ".[onnx]"'
ONNX_FILE = "model.onnx"
OPSET = 17  # LayerNormalization is a standard op from 17 on
TEXT_INPUTS = ("input_ids", "attention_mask", "token_type_ids")

# fused op types (onnxruntime.transformers' names), grouped for the record and the printed line
FUSED_GROUPS = {
    "attention": ("Attention", "MultiHeadAttention"),
    "layernorm": ("EmbedLayerNormalization", "SkipLayerNormalization", "LayerNormalization",
                  "SkipSimplifiedLayerNormalization", "SimplifiedLayerNormalization"),
    "gelu": ("Gelu", "FastGelu", "BiasGelu", "GemmFastGelu"),
    "fused_conv": ("FusedConv",),
}


def require_onnxruntime():
    try:
        import onnx  # noqa: F401
        import onnxruntime
    except ImportError as exc:
        raise HfCompressError(f"{INSTALL_HINT} ({exc})") from None
    return onnxruntime


def isa_preset(isa: str) -> str:
    """The instruction set the INT8 parameters are chosen for ('auto': from /proc/cpuinfo flags)."""
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


def int8_types(preset: str) -> dict[str, Any]:
    """ONNX Runtime's CPU guidance (quantize_static docstring): u8 activations / s8 weights on x86, with
    7-bit weights (``reduce_range``) where there is no VNNI (integer saturation); s8/s8 on ARM."""
    from onnxruntime.quantization import QuantType

    activation = QuantType.QInt8 if preset == "arm64" else QuantType.QUInt8
    return {"activation_type": activation, "weight_type": QuantType.QInt8,
            "reduce_range": preset in ("avx2", "avx512")}


# ---------------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------------
def input_names(model, modality: str) -> list[str]:
    if modality == "image":
        return ["pixel_values"]
    import inspect

    params = inspect.signature(model.forward).parameters
    return [n for n in TEXT_INPUTS if n in params]


@contextlib.contextmanager
def eager_attention(model):
    """Switch a transformers model to eager attention for the duration (the fusable pattern)."""
    before = getattr(model.config, "_attn_implementation", None)
    if before in (None, "eager") or not hasattr(model, "set_attn_implementation"):
        yield
        return
    model.set_attn_implementation("eager")
    try:
        yield
    finally:
        model.set_attn_implementation(before)


def export_onnx(model, modality: str, path: Path, example: dict[str, torch.Tensor]) -> list[str]:
    """``torch.onnx.export`` (TorchScript exporter) of ``model`` to ``path``; returns the input names."""
    names = input_names(model, modality)
    missing = [n for n in names if n not in example and n != "token_type_ids"]
    if missing:
        raise HfCompressError(f"ONNX export: the example batch has no {missing}")
    if "token_type_ids" in names and "token_type_ids" not in example:
        example = {**example, "token_type_ids": torch.zeros_like(example["input_ids"])}
    kwargs = {n: example[n] for n in names}  # in the order of input_names
    axes = {n: {0: "batch", 1: "sequence"} for n in names} if modality == "text" else \
        {"pixel_values": {0: "batch", 2: "height", 3: "width"}}
    model = model.eval()
    with eager_attention(model) if modality == "text" else contextlib.nullcontext(), torch.no_grad(), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python control flow on shapes
        torch.onnx.export(model, (), str(path), kwargs=kwargs, input_names=names, output_names=["logits"],
                          dynamic_axes={**axes, "logits": {0: "batch"}}, opset_version=OPSET,
                          do_constant_folding=True, dynamo=False)
    return names


def example_batch(task, preprocessor, cfg: QuantizeConfig, n: int = 2) -> dict[str, torch.Tensor]:
    """``n`` collated examples of the task's train split. Text gets one padding column: transformers
    drops an all-ones attention mask on some attention paths (SDPA), which would trace a graph that
    ignores padding; the padded example keeps the mask in the graph whatever the sentences."""
    raw = task.load(task.train_split, limit=n, mirror=cfg.datasets_mirror, shuffle_seed=cfg.seed)
    data = task.preprocess(raw, preprocessor, max_length=cfg.max_length, train=False)
    if len(data) == 0:
        raise HfCompressError("ONNX export needs an example input: the task's train split gave no examples")
    batch = task.collator(preprocessor)([data[i] for i in range(len(data))])
    batch.pop("labels", None)
    if task.modality == "text":
        pad_id = getattr(preprocessor, "pad_token_id", None) or 0
        for name in list(batch):
            if name in TEXT_INPUTS:
                fill = pad_id if name == "input_ids" else 0
                batch[name] = torch.cat([batch[name], torch.full_like(batch[name][:, :1], fill)], dim=1)
    return batch


# ---------------------------------------------------------------------------------------------
# Graph optimisation
# ---------------------------------------------------------------------------------------------
def _text_shape(config) -> tuple[int, int]:
    heads = getattr(config, "num_attention_heads", None) or getattr(config, "n_heads", None)
    hidden = getattr(config, "hidden_size", None) or getattr(config, "dim", None)
    if not heads or not hidden:
        raise HfCompressError(f"ONNX optimisation: {type(config).__name__} names no attention heads / hidden size")
    return int(heads), int(hidden)


def set_heads_from_weights(graph, head_size: int) -> list[int]:
    """Give each fused Attention node the head count its own Q/K/V weights have.

    The optimizer takes one ``num_heads`` for the whole model when the graph's reshapes say -1
    (transformers 5.x writes ``view(..., -1, head_dim)``); a head-pruned layer with fewer heads
    then gets the wrong head size and computes wrong attention with only a warning. The head
    size itself never changes under head pruning, so the count is the Q width / head size.
    """
    from onnx import helper

    inits = {i.name: i for i in graph.initializer}
    counts = []
    for node in graph.node:
        if node.op_type != "Attention":
            continue
        attrs = {a.name: a for a in node.attribute}
        if "qkv_hidden_sizes" in attrs:
            q_width = helper.get_attribute_value(attrs["qkv_hidden_sizes"])[0]
        else:
            q_width = inits[node.input[1]].dims[1] // 3
        if q_width % head_size:
            raise HfCompressError(f"ONNX attention fusion: {node.name} has Q width {q_width}, not a multiple of "
                                  f"the head size {head_size}")
        attrs["num_heads"].i = q_width // head_size
        counts.append(q_width // head_size)
    return counts


def optimize_text(src: Path, dst: Path, model, level: str, embed_fusion: bool = True) -> None:
    """``embed_fusion=False`` keeps the embedding lookups as plain Gathers (static INT8 of the tables
    quantizes Gathers; the fused EmbedLayerNormalization has no static INT8 form)."""
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    if level == "O1":
        opt = optimize_model(str(src), model_type="bert", opt_level=1, only_onnxruntime=True)
    else:
        heads, hidden = _text_shape(model.config)
        options = FusionOptions("bert")
        options.enable_gelu_approximation = level == "O3"
        options.enable_embed_layer_norm = embed_fusion
        opt = optimize_model(str(src), model_type="bert", num_heads=heads, hidden_size=hidden,
                             optimization_options=options, opt_level=1)
        set_heads_from_weights(opt.model.graph, hidden // heads)
    opt.save_model_to_file(str(dst))


def optimize_image(src: Path, dst: Path, level: str, for_quantization: bool) -> None:
    """ONNX Runtime's own optimiser, persisted with ``optimized_model_filepath``. A graph that is
    quantized next stays at the basic level: the quantizer knows ``Conv``, not the CPU-only
    ``FusedConv`` of the extended level (which the session then fuses again at load)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    basic = level == "O1" or for_quantization
    options.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_BASIC if basic
                                        else ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED)
    options.optimized_model_filepath = str(dst)
    ort.InferenceSession(str(src), options, providers=["CPUExecutionProvider"])


def op_counts(path: Path) -> collections.Counter:
    import onnx

    return collections.Counter(n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node)


def fused_counts(path: Path, model, modality: str) -> dict[str, Any]:
    """Fused node counts of an optimised graph: groups (attention, layernorm, gelu; image: fused_conv
    and the BatchNorms folded into convolutions) and every fused op type that occurs."""
    ops = op_counts(path)
    groups = ("fused_conv",) if modality == "image" else ("attention", "layernorm", "gelu")
    counts: dict[str, Any] = {g: sum(ops[o] for o in FUSED_GROUPS[g]) for g in groups}
    if modality == "image":
        batchnorms = sum(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
        counts["batchnorm_folded"] = batchnorms - ops["BatchNormalization"]
        counts["conv"] = ops["Conv"]
    counts["ops"] = {o: ops[o] for g in groups for o in FUSED_GROUPS[g] if ops[o]}
    return counts


def fused_line(fused: dict[str, Any], level: str) -> str:
    parts = [f"{k} {v}" for k, v in fused.items() if k != "ops"]
    detail = ", ".join(f"{o} {n}" for o, n in fused["ops"].items())
    return f"onnx {level}: fused {', '.join(parts)}" + (f" ({detail})" if detail else "")


# ---------------------------------------------------------------------------------------------
# Calibration and quantization
# ---------------------------------------------------------------------------------------------
def _onnx_inputs(path: Path):
    import onnx

    return onnx.load(str(path), load_external_data=False).graph.input


def calibration_samples(task, preprocessor, cfg: QuantizeConfig, names: list[str]) -> list[dict]:
    """One feed dict (numpy, batch of 1) per calibration example of the task's train split."""
    import numpy as np

    raw = task.load(task.train_split, limit=cfg.calibration_samples, mirror=cfg.datasets_mirror,
                    shuffle_seed=cfg.seed)
    data = task.preprocess(raw, preprocessor, max_length=cfg.max_length, train=False)
    if len(data) == 0:
        raise HfCompressError("onnx-static needs calibration data: the task's train split gave no examples")
    if task.modality == "image":
        return [{"pixel_values": np.asarray(data[i]["pixel_values"], dtype=np.float32)[None]}
                for i in range(len(data))]
    # ONNX Runtime's calibrators stack the intermediate outputs of all samples, so every sample
    # must have the same length: pad to the longest one in the calibration set.
    width = max(len(ids) for ids in data["input_ids"])
    pad_id = getattr(preprocessor, "pad_token_id", None) or 0
    samples = []
    for i in range(len(data)):
        row = data[i]
        n = len(row["input_ids"])
        feed = {}
        for name in names:
            values = list(row[name]) if name in row else [0] * n  # a tokenizer without token types
            fill = pad_id if name == "input_ids" else 0
            feed[name] = np.asarray([values + [fill] * (width - n)], dtype=np.int64)
        samples.append(feed)
    return samples


def _reader(samples: list[dict]):
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.rows = iter(samples)

        def get_next(self):
            return next(self.rows, None)

    return Reader()


def quantize_graph(src: Path, dst: Path, cfg: QuantizeConfig, modality: str, contrib_ops: bool,
                   samples: Optional[list[dict]] = None, exclude_ffn_output: bool = True) -> dict[str, Any]:
    """Dynamic or (``samples`` given) static INT8 of ``src`` into ``dst``; returns what the record keeps.

    Static text INT8 keeps the FFN output projections in float (see :func:`gelu_fed_matmuls`) unless
    ``exclude_ffn_output`` is False (the benchmark measures both). ``contrib_ops``: ``src`` holds
    com.microsoft ops (the optimizer's fused ones, GatherBlockQuantized), which ONNX's type inference
    does not know."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, quantize_dynamic, quantize_static

    preset = isa_preset(cfg.isa)
    types = int8_types(preset)
    per_channel = True if cfg.per_channel is None else cfg.per_channel
    # The optimizer's fused ops (com.microsoft) have no ONNX type inference: without a default
    # tensor type the quantizer's shape inference fails on them.
    extra: dict[str, Any] = {"DefaultTensorType": onnx.TensorProto.FLOAT} if contrib_ops else {}
    result: dict[str, Any] = {"isa_preset": preset, "per_channel": per_channel, "reduce_range": types["reduce_range"],
                              "weights_dtype": types["weight_type"].name}
    if samples is None:
        quantize_dynamic(str(src), str(dst), per_channel=per_channel, reduce_range=types["reduce_range"],
                         weight_type=types["weight_type"], extra_options=extra)
        return {**result, "scheme": "dynamic", "quant_format": "QOperator", "activations_dtype": "QUInt8 (dynamic)",
                "operators": "all"}
    operators, excluded, shape_gathers, tables = None, [], [], []
    if modality == "text":
        # Static INT8 of text models quantizes only the matrix products. The default operator
        # list includes Add, and BERT's additive attention mask (values near float32's minimum)
        # flows through an Add: its range breaks histogram calibration (percentile, entropy:
        # "too many bins") and would waste the int8 grid of the attention scores under min-max.
        operators = ["MatMul", "Gemm"]
        if exclude_ffn_output:
            excluded = gelu_fed_matmuls(src)
        if cfg.quantize_embeddings:
            # the lookups of the embedding tables: int8 tables dequantized after the Gather (what
            # onnx-dynamic stores); every other Gather (shape arithmetic) is left alone
            tables, shape_gathers = embedding_gathers(src)
            if not tables:
                raise HfCompressError(f"quantize.quantize_embeddings: no Gather reads an embedding table in {src.name} "
                                      "(nothing to quantize); set it to false")
            operators = operators + ["Gather"]
    method = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
              "entropy": CalibrationMethod.Entropy}[cfg.calibration or "minmax"]
    if method == CalibrationMethod.Percentile:
        extra["CalibPercentile"] = cfg.percentile
    fmt = QuantFormat.QOperator if cfg.onnx_format == "qoperator" else QuantFormat.QDQ
    if contrib_ops:
        # The calibrator only collects ranges of tensors with a known float type, and ONNX's shape
        # inference gives none after a fused com.microsoft op (measured: the pooler's input then has
        # no range and quantize_static fails). ONNX Runtime's symbolic shape inference knows them.
        from onnxruntime.quantization.shape_inference import quant_pre_process

        typed = dst.with_name("typed.onnx")
        quant_pre_process(str(src), str(typed), skip_optimization=True, auto_merge=True)
        src = typed
    # quantize_static writes its augmented calibration model into its own temporary directory
    quantize_static(str(src), str(dst), _reader(samples), quant_format=fmt, op_types_to_quantize=operators,
                    nodes_to_exclude=excluded + shape_gathers, per_channel=per_channel, calibrate_method=method,
                    extra_options=extra, **types)
    calibration = {"method": cfg.calibration or "minmax", "samples": len(samples)}
    if method == CalibrationMethod.Percentile:
        calibration["percentile"] = cfg.percentile
    return {**result, "scheme": "static", "quant_format": fmt.name, "activations_dtype": types["activation_type"].name,
            "operators": operators or "all", "calibration": calibration,
            **({"kept_float": {"ffn_output_matmuls": len(excluded)}} if excluded else {}),
            **({"embeddings": {"int8_tables": tables}} if cfg.quantize_embeddings else {})}


EMBEDDING_BLOCK = 64  # weights per 4-bit scale


def int4_word_embeddings(src: Path, dst: Path, vocab_size: int) -> dict[str, Any]:
    """The word-embedding lookup of ``src`` as ONNX Runtime's 4-bit ``GatherBlockQuantized``
    (symmetric, one float scale per block of ``EMBEDDING_BLOCK`` weights along the hidden axis), written
    to ``dst``; the INT8 pass that follows leaves that node alone.

    ONNX Runtime's own weight-only quantizer (``MatMulNBitsQuantizer``) does the work. Only the table
    with ``vocab_size`` rows is quantized: the position and token-type tables are small. Measured on
    the 3-layer SST-2 student (benchmarks/work/glue/sst2, all 872 validation sentences, dynamic INT8
    around it): blocks of 32 / 64 / 128 scored 88.88 / 88.76 / 88.19 against 88.42 with the int8
    table and 88.65 in float; 64 costs 216 bytes a row against int8's 384, with no measurable latency
    change (GatherBlockQuantized vs Gather + dequantize, 1 thread, b1 and b32)."""
    from onnxruntime.quantization import QuantFormat

    try:
        from onnxruntime.quantization.matmul_nbits_quantizer import (DefaultWeightOnlyQuantConfig,
                                                                     MatMulNBitsQuantizer)
    except ImportError as exc:  # onnx-ir, which the onnx extra installs
        raise HfCompressError(f"quantize.embedding_bits: 4 needs ONNX Runtime's weight-only quantizer: "
                              f"{INSTALL_HINT} ({exc})") from None

    tables, others = embedding_gathers(src, rows=vocab_size)
    if not tables:
        raise HfCompressError(f"quantize.embedding_bits: no Gather reads a {vocab_size}-row embedding table in "
                              f"{src.name}; 4-bit tables need the plain word-embedding lookup")
    algo = DefaultWeightOnlyQuantConfig(block_size=EMBEDDING_BLOCK, is_symmetric=True,
                                        quant_format=QuantFormat.QOperator, op_types_to_quantize=("Gather",),
                                        quant_axes=(("Gather", 1),))
    # nodes_to_include adds to the op-type selection rather than narrowing it: exclude the others
    quantizer = MatMulNBitsQuantizer(str(src), nodes_to_exclude=others, algo_config=algo)
    quantizer.process()
    quantizer.model.save_model_to_file(str(dst), False)
    return {"bits": 4, "block_size": EMBEDDING_BLOCK, "symmetric": True, "op": "GatherBlockQuantized",
            "tables": tables}


def embedding_gathers(path: Path, rows: Optional[int] = None) -> tuple[list[str], list[str]]:
    """(names of the tables, names of the other Gather nodes): a table is a rank-2 float initializer that
    a Gather reads rows of (BERT's word, position and token-type embeddings); with ``rows``, only a table
    of that many rows counts (the word table: ``vocab_size``) and the other lookups are "other" too."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    tables = {t.name for t in graph.initializer if len(t.dims) == 2 and t.data_type == onnx.TensorProto.FLOAT
              and rows in (None, t.dims[0])}
    gathers = [n for n in graph.node if n.op_type == "Gather"]
    found = sorted({n.input[0] for n in gathers if n.input[0] in tables})
    return found, [n.name for n in gathers if n.input[0] not in tables]


def gelu_fed_matmuls(path: Path) -> list[str]:
    """Names of the MatMul/Gemm nodes whose input is a GELU output: BERT's FFN output projections.

    Post-GELU activations have a few large outliers, so one per-tensor uint8 range calibrated on
    them leaves the bulk of the values a handful of levels. Measured on all-MiniLM-L6-v2 fine-tuned
    on SST-2 (200 validation sentences): static INT8 of every MatMul flips 9-10 predictions of the
    fp32 model (accuracy -1 to +2 points, varying with the fine-tune); keeping these 6 of 20 MatMuls
    in float flips 2.
    """
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    producer = {out: node for node in graph.node for out in node.output}

    def is_gelu(name: str, depth: int = 0) -> bool:
        node = producer.get(name)
        if node is None or depth > 3:
            return False
        if node.op_type in FUSED_GROUPS["gelu"] or node.op_type == "Erf" and depth > 0:
            return True
        # unfused erf GELU: x * 0.5 * (1 + erf(x / sqrt 2)), a few Mul/Add/Div above the MatMul
        return node.op_type in ("Mul", "Add", "Div") and any(is_gelu(i, depth + 1) for i in node.input)

    return [n.name for n in graph.node if n.op_type in ("MatMul", "Gemm") and is_gelu(n.input[0])]


def quantize_onnx(loaded, task, cfg: QuantizeConfig, out_dir: Path) -> dict[str, Any]:
    """Export ``loaded.model`` and write ``out_dir/model.onnx`` (fp32, or INT8); return the stage result.

    ``out_dir`` is the temporary folder of an :func:`atomic_directory`; intermediates go to a
    separate temporary directory that is always removed.
    """
    require_onnxruntime()  # (onnx_format applies to onnx-static only; other methods ignore it, so that
    # `auto` can pass one config to every candidate)
    modality, model = task.modality, loaded.model
    result: dict[str, Any] = {"backend": "onnxruntime", "format": "onnx", "file": ONNX_FILE, "opset": OPSET,
                              "exporter": "torch.onnx (TorchScript)"}
    with tempfile.TemporaryDirectory(prefix="hfcompress-onnx-") as work:
        exported = Path(work) / "export.onnx"
        export_onnx(model, modality, exported, example_batch(task, loaded.preprocessor, cfg))
        result.update(finish_graph(exported, model, modality, task, loaded.preprocessor, cfg, out_dir / ONNX_FILE))
    return result


def finish_graph(exported: Path, model, modality: str, task, preprocessor, cfg: QuantizeConfig,
                 target: Path) -> dict[str, Any]:
    """An exported graph optimised (``cfg.optimization_level``), quantized (onnx-dynamic / onnx-static)
    and saved to ``target``; returns those steps' part of the stage result. Intermediates stay beside
    ``exported`` (the caller's temporary folder)."""
    result: dict[str, Any] = {}
    work, current, level = exported.parent, exported, cfg.optimization_level
    quantized = cfg.method in ("onnx-dynamic", "onnx-static")
    if level:
        optimised = work / "optimised.onnx"
        if modality == "text":
            optimize_text(current, optimised, model, level,
                          embed_fusion=not ((cfg.method == "onnx-static" and cfg.quantize_embeddings)
                                            or cfg.embedding_bits == 4))
        else:
            optimize_image(current, optimised, level, for_quantization=quantized)
        current = optimised
        result["optimization_level"] = level
        result["fused"] = fused_counts(current, model, modality)
        print(fused_line(result["fused"], level), flush=True)
    if quantized and cfg.embedding_bits == 4:  # (text only: quantize() refuses it for image tasks)
        int4 = work / "int4-embeddings.onnx"
        result["embeddings_int4"] = int4_word_embeddings(current, int4, model.config.vocab_size)
        current = int4
    if quantized:
        samples = None
        if cfg.method == "onnx-static":
            # the graph's own inputs, not forward()'s: an unused input (DeBERTa-v2's token_type_ids when
            # type_vocab_size is 0) is dropped by the exporter, and ONNX Runtime refuses a feed that names it
            samples = calibration_samples(task, preprocessor, cfg, [i.name for i in _onnx_inputs(current)])
        quantized_path = work / "quantized.onnx"
        # fused ops and GatherBlockQuantized are com.microsoft ops, outside ONNX's type inference
        contrib = bool(level) or "embeddings_int4" in result
        result.update(quantize_graph(current, quantized_path, cfg, modality, contrib_ops=contrib, samples=samples))
        current = quantized_path
    else:
        result["scheme"] = "fp32"
    _save_graph(current, target)
    return result


def _save_graph(src: Path, dst: Path) -> None:
    """Copy the final graph, and its external weights where a tool wrote them (models over 2 GB)."""
    import shutil

    shutil.copy2(src, dst)
    for extra in src.parent.glob(src.name + "*data"):
        shutil.copy2(extra, dst.parent / extra.name)


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------
@dataclasses.dataclass
class OnnxOutput:
    logits: torch.Tensor


class OnnxModel:
    """An ``onnxruntime.InferenceSession`` called like a transformers model: ``model(**batch).logits``.

    Feeds only the graph's inputs (collated batches also carry ``labels`` and such), as int64 or
    float32 numpy arrays; a missing ``token_type_ids`` is zeros (what BERT assumes).
    """

    output = "logits"  # the graph output a call returns

    def __init__(self, path: Path, threads: Optional[int] = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        self.path = Path(path)
        self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name: i.type for i in self.session.get_inputs()}

    def __call__(self, **batch) -> OnnxOutput:
        return OnnxOutput(logits=self.run(batch))

    def run(self, batch: dict) -> torch.Tensor:
        """The graph's ``output`` for ``batch`` (a float tensor)."""
        import numpy as np

        feed = {}
        for name, kind in self.inputs.items():
            value = batch.get(name)
            if value is None and name == "token_type_ids" and "input_ids" in batch:
                value = torch.zeros_like(torch.as_tensor(batch["input_ids"]))
            if value is None:
                raise HfCompressError(f"{self.path}: the batch has no {name!r} (graph inputs: {list(self.inputs)})")
            array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
            feed[name] = array.astype(np.int64 if kind == "tensor(int64)" else np.float32, copy=False)
        return torch.from_numpy(self.session.run([self.output], feed)[0])


def load_onnx(path: Path, modality: str, threads: Optional[int] = None) -> OnnxModel:
    """``path/model.onnx`` in an ONNX Runtime CPU session with ``threads`` (default: torch's) intra-op threads."""
    require_onnxruntime()
    return OnnxModel(Path(path) / ONNX_FILE, threads=threads)

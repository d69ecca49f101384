"""Validating a model folder before anything is allocated: records, config sizes, weight headers.

A model folder from the Hub or a colleague is untrusted input. Before a skeleton is built, every
number that decides an allocation (config sizes, per-layer head counts, FFN widths, channel counts,
packed tensor shapes) is checked — type, range, and against the tensor shapes in the safetensors
headers, which are read without loading any tensor (8-byte length + JSON). A tampered or corrupt
folder then gives one :class:`~hfcompress.errors.ModelLoadError` naming the file and the field,
never a traceback and never a huge allocation.

Entry points:

* :func:`check_folder` — every loader (called by :func:`hfcompress.hub.load.load`): weight files
  readable (safetensors headers, ONNX graphs), config sizes sane and bounded by the weights,
  record stage methods known and their results well-formed.
* :func:`check_skeleton_fits` — the PyTorch loader: builds the skeleton the config + record imply on
  the ``meta`` device (no memory) and compares its parameter shapes with the headers.
* :func:`safetensors_shapes` / :func:`read_safetensors_header` — the headers themselves.
"""

from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional

from hfcompress.errors import ModelLoadError

DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1, "I16": 2, "U16": 2,
               "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}
MAX_HEADER_BYTES = 100 * 1024 * 1024
PACKED_SHAPE_SUFFIX = ".__hfc_shape"
MAX_RANK = 8
# a config size may exceed the largest stored dimension (pruned models keep their original config sizes),
# but not by more than this factor; and the unpruned skeleton may hold at most SKELETON_SLACK times the stored
# numbers (plus SKELETON_FLOOR) before it is built for real
DIM_SLACK = 64
SKELETON_SLACK = 100
SKELETON_FLOOR = 50_000_000

# config.json integer sizes: name -> smallest allowed value
CONFIG_SIZES = {"num_hidden_layers": 0, "hidden_size": 1, "num_attention_heads": 1, "intermediate_size": 1,
                "vocab_size": 1, "max_position_embeddings": 1, "type_vocab_size": 0, "embedding_size": 1,
                "num_channels": 1}
CONFIG_SIZE_LISTS = {"hidden_sizes": 1, "depths": 0}


def known_methods(extra: Iterable[str] = ()) -> set[str]:
    """Record stage methods this installation can read: the method registry's, plus ``extra``."""
    from hfcompress.methods.registry import known_stages

    return known_stages() | set(extra)


# ---------------------------------------------------------------------------------------------
# Weight files
# ---------------------------------------------------------------------------------------------
def read_safetensors_header(file: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """The tensor table of a safetensors file (``{name: {dtype, shape, data_offsets}}``), checked for
    consistency with the file's size, without reading any tensor."""
    file = Path(file)
    bad = f"{file}: not a valid safetensors file"
    try:
        size = file.stat().st_size
        with open(file, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise ModelLoadError(f"{bad} (only {len(head)} bytes)")
            (n,) = struct.unpack("<Q", head)
            if n == 0 or n > MAX_HEADER_BYTES or n > size - 8:
                raise ModelLoadError(f"{bad} (header length {n} does not fit the file of {size} bytes)")
            raw = f.read(n)
    except OSError as exc:
        raise ModelLoadError(f"{file}: unreadable ({exc.strerror or exc})") from None
    try:
        table = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelLoadError(f"{bad} (its header is not JSON)") from None
    if not isinstance(table, dict):
        raise ModelLoadError(f"{bad} (its header is not a table)")
    data_size = size - 8 - n
    out: dict[str, dict[str, Any]] = {}
    for name, info in table.items():
        if name == "__metadata__":
            continue
        where = f"{file}: tensor {name!r}"
        if not isinstance(info, dict):
            raise ModelLoadError(f"{where}: malformed header entry")
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if dtype not in DTYPE_BYTES:
            raise ModelLoadError(f"{where}: unknown dtype {dtype!r}")
        if (not isinstance(shape, list) or len(shape) > MAX_RANK
                or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)):
            raise ModelLoadError(f"{where}: malformed shape {shape!r}")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)):
            raise ModelLoadError(f"{where}: malformed data_offsets {offsets!r}")
        begin, end = offsets
        if not 0 <= begin <= end <= data_size:
            raise ModelLoadError(f"{where}: data {begin}..{end} lies outside the file (truncated or corrupt: "
                                 f"{data_size} data bytes)")
        if end - begin != math.prod(shape) * DTYPE_BYTES[dtype]:
            raise ModelLoadError(f"{where}: shape {shape} ({dtype}) does not match its {end - begin} data bytes")
        out[name] = {"dtype": dtype, "shape": tuple(shape), "data_offsets": (begin, end)}
    return out


def _packed_shape(file: Path, name: str, info: dict) -> tuple[int, ...]:
    """The dense shape stored in a packed tensor's ``.__hfc_shape`` entry (a few int64s, read alone)."""
    if info["dtype"] != "I64" or len(info["shape"]) != 1 or info["shape"][0] > MAX_RANK:
        raise ModelLoadError(f"{file}: tensor {name!r}: malformed packed shape entry {info['shape']}")
    begin, end = info["data_offsets"]
    with open(file, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        f.seek(8 + n + begin)
        raw = f.read(end - begin)
    dims = struct.unpack(f"<{len(raw) // 8}q", raw)
    if any(d < 0 for d in dims):
        raise ModelLoadError(f"{file}: tensor {name!r}: negative packed shape {list(dims)}")
    return tuple(dims)


def safetensors_shapes(folder: str | os.PathLike, unpack: bool = True) -> dict[str, tuple[int, ...]]:
    """``{tensor name: shape}`` over every ``*.safetensors`` file of ``folder``, from the headers only.

    With ``unpack``, hfcompress's packed sparse tensors (bitmask + values + ``.__hfc_shape``) are
    reported under their dense name and shape, checked against the bitmask and value counts.
    """
    shapes: dict[str, tuple[int, ...]] = {}
    for file in sorted(Path(folder).glob("*.safetensors")):
        header = read_safetensors_header(file)
        for name, info in header.items():
            shapes[name] = info["shape"]
        if not unpack:
            continue
        for name, info in header.items():
            if not name.endswith(PACKED_SHAPE_SUFFIX):
                continue
            base = name[: -len(PACKED_SHAPE_SUFFIX)]
            dense = _packed_shape(file, name, info)
            numel = math.prod(dense)
            mask, values = header.get(base + ".__hfc_bitmask"), header.get(base + ".__hfc_values")
            if mask is None or values is None:
                raise ModelLoadError(f"{file}: packed tensor {base!r} lacks its bitmask or values")
            if mask["shape"] != ((numel + 7) // 8,):
                raise ModelLoadError(f"{file}: packed tensor {base!r}: recorded shape {list(dense)} does not match "
                                     f"its bitmask of {list(mask['shape'])} bytes")
            if len(values["shape"]) != 1 or values["shape"][0] > numel:
                raise ModelLoadError(f"{file}: packed tensor {base!r}: {list(values['shape'])} values for "
                                     f"{numel} weights")
            for k in [k for k in shapes if k.startswith(base + ".__hfc_")]:
                shapes.pop(k)
            shapes[base] = dense
    return shapes


def check_onnx_file(file: str | os.PathLike) -> None:
    """One line for an empty or unparsable ONNX graph (instead of onnxruntime's traceback)."""
    file = Path(file)
    try:
        size = file.stat().st_size
    except OSError as exc:
        raise ModelLoadError(f"{file}: unreadable ({exc.strerror or exc})") from None
    if size == 0:
        raise ModelLoadError(f"{file}: empty ONNX file (an interrupted export?)")
    try:
        import onnx
    except ImportError:
        return
    try:
        onnx.load(str(file), load_external_data=False)
    except Exception as exc:  # DecodeError and friends
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelLoadError(f"{file}: not a valid ONNX model ({first[:200]})") from None


# ---------------------------------------------------------------------------------------------
# config.json sizes
# ---------------------------------------------------------------------------------------------
def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_config_sizes(config: Mapping[str, Any], shapes: Optional[Mapping[str, tuple]] = None,
                       where: str = "config.json") -> None:
    """Integer sizes of ``config`` (layers, widths, heads, vocabulary): type, range, and — given the
    weights' ``shapes`` — no larger than the weights can hold (no dimension beyond the largest
    stored one, no more layers than stored tensors)."""
    configs = [config] + [v for v in config.values() if isinstance(v, dict) and "hidden_size" in v]
    # pruning shrinks the stored tensors below the config's sizes, so the bound is generous; the exact
    # check is check_skeleton_fits (and check_skeleton_size) on the meta device
    max_dim = max((max(s) for s in (shapes or {}).values() if s), default=None)
    max_dim = None if max_dim is None else DIM_SLACK * max_dim + 4096
    n_tensors = len(shapes) if shapes is not None else None
    for cfg in configs:
        for key, low in CONFIG_SIZES.items():
            if key not in cfg or cfg[key] is None:
                continue
            value = cfg[key]
            if not _is_int(value) or value < low:
                raise ModelLoadError(f"{where}: {key} must be an integer >= {low}, got {value!r}")
            if key == "num_hidden_layers":
                if n_tensors is not None and value > n_tensors:
                    raise ModelLoadError(f"{where}: num_hidden_layers {value} does not fit the weights "
                                         f"({n_tensors} tensors in all)")
            elif key == "num_attention_heads":
                if _is_int(cfg.get("hidden_size")) and value > cfg["hidden_size"]:
                    raise ModelLoadError(f"{where}: num_attention_heads {value} exceeds hidden_size "
                                         f"{cfg['hidden_size']}")
            elif max_dim is not None and value > max_dim:
                raise ModelLoadError(f"{where}: {key} {value} does not fit the weights (no stored tensor has a "
                                     f"dimension above {max_dim})")
        for key, low in CONFIG_SIZE_LISTS.items():
            if key not in cfg or cfg[key] is None:
                continue
            values = cfg[key]
            if not isinstance(values, list) or len(values) > 64 or not all(_is_int(v) and v >= low for v in values):
                raise ModelLoadError(f"{where}: {key} must be a list of integers >= {low}, got {str(values)[:80]}")
            bound = n_tensors if key == "depths" else max_dim
            if bound is not None and (sum(values) if key == "depths" else max(values, default=0)) > bound:
                raise ModelLoadError(f"{where}: {key} {values} does not fit the weights")


# ---------------------------------------------------------------------------------------------
# The compression record
# ---------------------------------------------------------------------------------------------
def _int_list(value: Any, field: str, low: int, high: Optional[int], length: Optional[int] = None) -> list[int]:
    if not isinstance(value, list) or not all(_is_int(v) for v in value):
        raise ModelLoadError(f"{field}: expected a list of integers, got {str(value)[:80]}")
    if length is not None and len(value) != length:
        raise ModelLoadError(f"{field}: expected {length} entries (one per layer), got {len(value)}")
    for v in value:
        if v < low or (high is not None and v > high):
            raise ModelLoadError(f"{field}: {v} is out of range [{low}, {high}]")
    return value


_MODULE_FIELDS = {"conv2d": ("in_channels", "out_channels", "groups"), "linear": ("in_features", "out_features"),
                  "batchnorm2d": ("num_features",), "layernorm": (), "parameter": ()}


def _check_module_shapes(shapes_rec: Any, field: str, shapes: Optional[Mapping[str, tuple]]) -> None:
    if not isinstance(shapes_rec, dict):
        raise ModelLoadError(f"{field}: expected a mapping of module name to shape, got {str(shapes_rec)[:80]}")
    for name, spec in shapes_rec.items():
        f = f"{field}.{name}"
        if not isinstance(spec, dict) or spec.get("type") not in _MODULE_FIELDS:
            raise ModelLoadError(f"{f}: expected a module shape with type one of {sorted(_MODULE_FIELDS)}, "
                                 f"got {str(spec)[:80]}")
        kind = spec["type"]
        for key in _MODULE_FIELDS[kind]:
            value = spec.get(key)
            if not _is_int(value) or value < (1 if key == "groups" else 0):
                raise ModelLoadError(f"{f}.{key}: expected an integer >= {1 if key == 'groups' else 0}, got {value!r}")
        if kind == "layernorm":
            _int_list(spec.get("normalized_shape"), f"{f}.normalized_shape", 0, None)
        if kind == "parameter":  # a bare parameter (ConvNeXt's layer scale), by its full name
            _int_list(spec.get("shape"), f"{f}.shape", 0, None)
            if shapes is not None and tuple(shapes.get(name, ())) != tuple(spec["shape"]):
                raise ModelLoadError(f"{f}: recorded shape {spec['shape']} does not match the stored {name} "
                                     f"{list(shapes.get(name, ()))}")
            continue
        if kind == "conv2d" and spec["in_channels"] % spec["groups"]:
            raise ModelLoadError(f"{f}.groups: {spec['groups']} does not divide in_channels {spec['in_channels']}")
        if shapes is None:
            continue
        weight = shapes.get(f"{name}.weight") or shapes.get(f"{name}.running_mean")
        if weight is None:
            raise ModelLoadError(f"{f}: the weights hold no tensor {name}.weight")
        if kind == "conv2d":
            implied = (spec["out_channels"], spec["in_channels"] // spec["groups"])
            actual = tuple(weight[:2])
        elif kind == "linear":
            implied, actual = (spec["out_features"], spec["in_features"]), tuple(weight)
        elif kind == "batchnorm2d":
            implied, actual = (spec["num_features"],), tuple(weight)
        else:
            implied, actual = tuple(spec["normalized_shape"]), tuple(weight)
        if implied != actual:
            raise ModelLoadError(f"{f}: recorded shape {list(implied)} does not match the stored {name} "
                                 f"{list(actual)}")


def check_record(record, config: Mapping[str, Any], shapes: Optional[Mapping[str, tuple]] = None,
                 known: Optional[Iterable[str]] = None, where: str = "config.json['hfcompress']",
                 compare_modules: bool = True) -> None:
    """Stage methods are known; the numbers a rebuild reads (kept heads, FFN widths, module shapes) have
    the right type, are in range for the model the config describes, and match the stored weights."""
    if record is None:
        return
    names = known_methods() if known is None else set(known)
    from hfcompress.models.families import config_layout

    n_layers, n_heads, ffn = config_layout(config)
    heads = [n_heads] * n_layers if _is_int(n_layers) and _is_int(n_heads) else None
    widths = [ffn] * n_layers if _is_int(n_layers) and _is_int(ffn) else None
    for i, stage in enumerate(record.stages):
        field = f"{where}.stages[{i}]"
        if stage.method not in names:
            raise ModelLoadError(f"{field}.method: unknown method {stage.method!r} (this hfcompress knows "
                                 f"{', '.join(sorted(names))}); the model cannot be rebuilt")
        result = stage.result if isinstance(stage.result, dict) else {}
        if stage.method == "prune_heads":
            kept = result.get("kept_heads")
            if not isinstance(kept, list) or (heads is not None and len(kept) != len(heads)):
                raise ModelLoadError(f"{field}.result.kept_heads: expected one list of head indices per layer "
                                     f"({n_layers}), got {str(kept)[:80]}")
            for li, layer_heads in enumerate(kept):
                top = heads[li] - 1 if heads is not None else None
                _int_list(layer_heads, f"{field}.result.kept_heads[{li}]", 0, top)
                if len(set(layer_heads)) != len(layer_heads):
                    raise ModelLoadError(f"{field}.result.kept_heads[{li}]: repeated head index")
            heads = [len(k) for k in kept]
        elif stage.method == "prune_ffn":
            value = result.get("ffn_widths")
            _int_list(value, f"{field}.result.ffn_widths", 0, max(widths) if widths else None,
                      len(widths) if widths else None)
            if widths:
                for li, (w, top) in enumerate(zip(value, widths)):
                    if w > top:
                        raise ModelLoadError(f"{field}.result.ffn_widths[{li}]: {w} exceeds the layer's {top} neurons")
            widths = list(value)
        elif stage.method == "prune_channels":
            _check_module_shapes(result.get("module_shapes"), f"{field}.result.module_shapes",
                                 shapes if compare_modules else None)
        elif stage.method == "prune_unstructured":
            if result.get("storage", "dense") not in ("packed", "dense"):
                raise ModelLoadError(f"{field}.result.storage: expected 'packed' or 'dense', got "
                                     f"{result.get('storage')!r}")


# ---------------------------------------------------------------------------------------------
# Whole folders
# ---------------------------------------------------------------------------------------------
def check_folder(path: str | os.PathLike, config: Mapping[str, Any], known: Optional[Iterable[str]] = None,
                 compare_modules: Optional[bool] = None) -> Optional[dict[str, tuple[int, ...]]]:
    """Every check that needs no model: weight files readable, config sizes, record. Returns the
    safetensors shapes (None when the folder has no safetensors). Any loader may call it first."""
    from hfcompress.errors import HfCompressError
    from hfcompress.hub.record import CompressionRecord

    path = Path(path)
    for onnx_file in sorted(path.glob("*.onnx")):
        check_onnx_file(onnx_file)
    shapes = safetensors_shapes(path) if any(path.glob("*.safetensors")) else None
    try:
        record = CompressionRecord.from_model_config(dict(config))
    except HfCompressError as exc:
        raise ModelLoadError(f"{path}/{exc}") from None
    _check_transformers_config(path)
    quantized = record is not None and "quantize" in record.methods
    check_config_sizes(config, shapes, where=f"{path}/config.json")
    if compare_modules is None:
        compare_modules = not quantized  # INT8 state dicts store packed parameters under other names
    check_record(record, config, shapes, known=known, where=f"{path}/config.json['hfcompress']",
                 compare_modules=compare_modules)
    return shapes


def checkpoint_names(model, own: Optional[Mapping[str, Any]] = None) -> dict[str, str]:
    """Model state-dict name -> the name ``save_pretrained`` writes it under (they differ where
    transformers 5.x keeps legacy checkpoint names, e.g. ViT); renames only, matched by tensor identity."""
    own = dict(model.state_dict() if own is None else own)
    try:
        from transformers.core_model_loading import revert_weight_conversion

        saved = revert_weight_conversion(model, dict(own))
    except Exception:  # no mapping for this model, or an older transformers
        return {}
    by_tensor = {id(t): name for name, t in own.items()}
    return {by_tensor[id(t)]: name for name, t in saved.items() if id(t) in by_tensor and by_tensor[id(t)] != name}


def check_skeleton_fits(model, shapes: Mapping[str, tuple], path: str | os.PathLike, strict: bool = True) -> None:
    """Compare a skeleton's parameter and buffer shapes (build it on the ``meta`` device) with the stored
    ``shapes``. ``strict``: the key sets must match too (tied weights may be absent from the file);
    otherwise only the tensors present in both (after the base-model prefix) are compared."""
    own = model.state_dict()
    rename = checkpoint_names(model, own)
    expected = {rename.get(k, k): tuple(v.shape) for k, v in own.items()}
    prefix = getattr(model, "base_model_prefix", "") or ""
    mismatched = []
    for key, shape in expected.items():
        stored = shapes.get(key)
        if stored is None and prefix and key.startswith(prefix + "."):
            stored = shapes.get(key[len(prefix) + 1:])
        if stored is not None and tuple(stored) != shape:
            mismatched.append((key, tuple(stored), shape))
    if mismatched:
        key, stored, shape = mismatched[0]
        raise ModelLoadError(f"{path}: stored tensor {key} has shape {list(stored)} but config.json and the record "
                             f"describe {list(shape)} ({len(mismatched)} tensor(s) differ): the record or config "
                             "does not match the weights")
    if strict:
        tied = set(getattr(model, "_tied_weights_keys", None) or [])
        if isinstance(getattr(model, "_tied_weights_keys", None), dict):
            tied = set(model._tied_weights_keys)
        tied = {rename.get(k, k) for k in tied}
        persistent = set(rename.get(k, k) for k, _ in model.named_parameters()) | set(
            rename.get(k, k) for k, _ in model.named_buffers() if rename.get(k, k) in expected)
        missing = [k for k in expected if k not in shapes and k not in tied and k in persistent]
        unexpected = [k for k in shapes if k not in expected]
        if missing or unexpected:
            raise ModelLoadError(f"weights in {path} do not fit the model config.json and the record describe: "
                                 f"missing {missing[:5]}, unexpected {unexpected[:5]}")


def _check_transformers_config(path: Path) -> None:
    """transformers' own validation of config.json (strict dataclass fields on 5.x), as one line."""
    try:
        from transformers import AutoConfig

        AutoConfig.from_pretrained(path)
    except (ImportError, OSError):
        return  # not a transformers config we can check (the loader reports it)
    except Exception as exc:
        text = " ".join(str(exc).split())
        raise ModelLoadError(f"{path}/config.json: not a valid model config ({type(exc).__name__}: "
                             f"{text[:300]})") from None


def check_skeleton_size(model, shapes: Optional[Mapping[str, tuple]], path: str | os.PathLike) -> None:
    """Refuse a skeleton (before any rebuild) far larger than the stored weights: building it for real
    would allocate memory the weights never fill (an absurd size in config.json)."""
    if shapes is None:
        return
    stored = sum(math.prod(s) for s in shapes.values())
    built = sum(t.numel() for t in model.state_dict().values())
    if built > SKELETON_SLACK * stored + SKELETON_FLOOR:
        raise ModelLoadError(f"{path}/config.json: describes a model of {built:,} numbers but the weights hold "
                             f"{stored:,}; a size in config.json is wrong")


def meta_skeleton(cls, config, stages: Iterable = (), shapes: Optional[Mapping[str, tuple]] = None,
                  path: str | os.PathLike = ""):
    """``cls`` built from ``config`` on the meta device (no memory), reshaped by the registry's rebuild of
    each of ``stages``. Given the stored ``shapes``, the unreshaped skeleton's size is checked first
    (:func:`check_skeleton_size`)."""
    import torch

    from hfcompress.methods.registry import rebuilder

    with torch.device("meta"):
        model = cls.from_config(config) if hasattr(cls, "from_config") else cls(config)
        check_skeleton_size(model, shapes, path)
        for stage in stages:
            strategy = rebuilder(stage.method)
            if strategy is not None:
                strategy.rebuild(model, stage)
    return model

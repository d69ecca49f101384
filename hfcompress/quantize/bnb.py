"""bitsandbytes 8-bit (LLM.int8) and 4-bit (NF4 / FP4) Linear layers, through transformers.

transformers does all the work: ``from_pretrained(..., quantization_config=BitsAndBytesConfig)``
replaces the Linear layers while loading, ``save_pretrained`` writes the packed weights to
safetensors with ``quantization_config`` in config.json, and a plain ``from_pretrained`` reloads
them. hfcompress adds the compression record and the task head.

Honest expectations (measured on this AVX2 CPU with bitsandbytes 0.50's CPU backend): 8-bit is
about 2x *slower* than fp32 and NF4 about 1.2x slower. bitsandbytes saves memory and disk, not
time, on a CPU; use ``torch-dynamic`` or ONNX Runtime for speed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hfcompress.errors import HfCompressError
from hfcompress.quantize.config import QuantizeConfig

INSTALL_HINT = "the bnb methods need bitsandbytes: pip install bitsandbytes (or `pip install -e .[bnb]`)"


def require_bnb():
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as exc:
        raise HfCompressError(f"{INSTALL_HINT} ({exc})") from None
    return bitsandbytes


def bnb_config(cfg: QuantizeConfig):
    import torch
    from transformers import BitsAndBytesConfig

    if cfg.method == "bnb-8bit":
        return BitsAndBytesConfig(load_in_8bit=True, llm_int8_threshold=cfg.llm_int8_threshold,
                                  llm_int8_skip_modules=["classifier"])
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=cfg.bnb_4bit_quant_type,
                              bnb_4bit_compute_dtype=getattr(torch, cfg.bnb_compute_dtype),
                              bnb_4bit_use_double_quant=cfg.bnb_double_quant,
                              llm_int8_skip_modules=["classifier"])


def quantize_bnb(loaded, task, cfg: QuantizeConfig, base_record, out_dir: Path) -> dict[str, Any]:
    """Reload ``loaded``'s folder with a ``BitsAndBytesConfig``; save it, with the record, to ``out_dir``.

    The classifier head stays in float (``llm_int8_skip_modules``): it is tiny and its outputs
    are the logits we score.
    """
    require_bnb()
    from hfcompress.hub.load import _REBUILDERS

    rebuilt = [s.method for s in (loaded.record.stages if loaded.record else []) if s.method in _REBUILDERS]
    if rebuilt:
        raise HfCompressError(f"{cfg.method} reloads the model folder with transformers' from_pretrained, but "
                              f"{loaded.path} needs hfcompress's skeleton rebuild ({', '.join(rebuilt)}); "
                              "use --method torch-dynamic or onnx-dynamic for this model")
    qconfig = bnb_config(cfg)
    model = task.model_class.from_pretrained(loaded.path, quantization_config=qconfig, device_map="cpu")
    result = {"backend": "bitsandbytes", "scheme": "llm.int8" if cfg.method == "bnb-8bit" else cfg.bnb_4bit_quant_type,
              "compute_dtype": cfg.bnb_compute_dtype}
    base_record.with_stage("quantize", cfg.to_dict(), result).attach(model.config)
    model.save_pretrained(out_dir, safe_serialization=True)
    if loaded.preprocessor is not None:
        loaded.preprocessor.save_pretrained(out_dir)
    return result


def is_bnb_folder(config: dict) -> bool:
    q = config.get("quantization_config") or {}
    return q.get("quant_method") == "bitsandbytes"

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


def is_bnb_folder(config: dict) -> bool:
    q = config.get("quantization_config") or {}
    return q.get("quant_method") == "bitsandbytes"

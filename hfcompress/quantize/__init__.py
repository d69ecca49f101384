"""Quantization: ONNX Runtime (torch.onnx + onnxruntime, no Optimum), PyTorch INT8 and QAT, bitsandbytes; ``auto`` picks by measurement.

``quantize(QuantizeConfig(...))`` writes a folder that ``hfcompress.load`` and ``hfcompress evaluate``
read back; see :mod:`hfcompress.quantize.api`.
"""

from hfcompress.quantize.config import METHODS, QuantizeConfig


def quantize(cfg: QuantizeConfig, **kwargs):
    """See :func:`hfcompress.quantize.api.quantize` (imported lazily)."""
    from hfcompress.quantize.api import quantize as _quantize

    return _quantize(cfg, **kwargs)


__all__ = ["METHODS", "QuantizeConfig", "quantize"]


from hfcompress.methods.contract import callable_family  # noqa: E402

callable_family(__name__, "quantize")  # hfcompress.quantize(cfg) runs the quantize runner

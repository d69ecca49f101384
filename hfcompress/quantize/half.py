"""``fp16`` / ``bf16``: the half-precision baselines of a quantization sweep.

No library step is needed: ``nn.Module.to(dtype)`` casts every floating parameter and buffer
(integer buffers such as BERT's ``position_ids`` and BatchNorm's ``num_batches_tracked`` stay
as they are) and ``save_pretrained`` writes the tensors in that dtype, so the file is half the
size. What hfcompress adds is the record (stage ``quantize`` with backend ``half`` and the
dtype), so that ``hfcompress.load`` gives the model back in that dtype (transformers 4.x would
load it as float32, and a pruned skeleton is always built in float32), and inputs cast to the
model's dtype at prediction time (``LoadedModel.input_dtype``, set by the ``half`` loader:
``pixel_values`` are float32).

On a CPU without native half arithmetic (no AVX512-FP16 / AMX) PyTorch computes fp16 and bf16
with conversions around float32 kernels: expect the same speed or slower, not faster.
"""

from __future__ import annotations

import torch

DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}
BACKEND = "half"


def cast(model: torch.nn.Module, method: str) -> dict:
    """Cast ``model`` in place to the dtype of ``method``; return the record stage's result."""
    dtype = DTYPES[method]
    model.to(dtype)  # save_pretrained then records the dtype in config.json itself
    return {"backend": BACKEND, "dtype": str(dtype).removeprefix("torch.")}


def dtype_of(result: dict) -> torch.dtype:
    return getattr(torch, result["dtype"])

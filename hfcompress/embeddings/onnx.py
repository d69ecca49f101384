"""An embedding model's encoder on ONNX Runtime: export, fusion and INT8 with hfcompress's ONNX pieces.

The graph maps ``input_ids`` / ``attention_mask`` (/ ``token_type_ids``) to ``token_embeddings``
(the last hidden states, batch and sequence axes dynamic); Pooling and Normalize stay the
sentence-transformers modules of the folder. Graph optimisation (O1-O3) and dynamic / static INT8
are :mod:`hfcompress.quantize.onnx`'s, unchanged.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import Any, Optional

import torch

from hfcompress.errors import HfCompressError

ONNX_FILE = "model.onnx"
OUTPUT = "token_embeddings"


class _TokenEmbeddings(torch.nn.Module):
    """The encoder with one output, its last hidden states (what the export traces)."""

    def __init__(self, encoder: torch.nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        extra = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state


def export(encoder: torch.nn.Module, path: Path, example: dict[str, torch.Tensor]) -> list[str]:
    from hfcompress.quantize.onnx import OPSET, eager_attention, input_names

    names = input_names(encoder, "text")
    if "token_type_ids" in names and "token_type_ids" not in example:
        example = {**example, "token_type_ids": torch.zeros_like(example["input_ids"])}
    axes = {n: {0: "batch", 1: "sequence"} for n in (*names, OUTPUT)}
    encoder = encoder.eval()
    with eager_attention(encoder), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python control flow on shapes
        torch.onnx.export(_TokenEmbeddings(encoder), (), str(path), kwargs={n: example[n] for n in names},
                          input_names=names, output_names=[OUTPUT], dynamic_axes=axes, opset_version=OPSET,
                          do_constant_folding=True, dynamo=False)
    return names


def quantize_embedding_onnx(loaded, task, cfg, out_dir: Path) -> dict[str, Any]:
    """``out_dir/model.onnx`` for ``cfg.method`` (onnx-fp32 / -dynamic / -static); returns the stage result."""
    from hfcompress.quantize import onnx as O

    O.require_onnxruntime()
    encoder, tokenizer = loaded.model, loaded.preprocessor
    result: dict[str, Any] = {"backend": "onnxruntime", "format": "onnx", "file": ONNX_FILE, "opset": O.OPSET,
                              "exporter": "torch.onnx (TorchScript)", "output": OUTPUT}
    with tempfile.TemporaryDirectory(prefix="hfcompress-st-onnx-") as work:
        exported = Path(work) / "export.onnx"
        export(encoder, exported, O.example_batch(task, tokenizer, cfg))
        result.update(O.finish_graph(exported, encoder, "text", task, tokenizer, cfg, out_dir / ONNX_FILE))
    return result


class OnnxEncoder:
    """``model.onnx`` in an ONNX Runtime CPU session: ``encoder(input_ids=..., attention_mask=...)`` ->
    token embeddings (a float tensor). The session and its feed are :class:`hfcompress.quantize.onnx.OnnxModel`'s
    (only the graph's inputs; a missing ``token_type_ids`` is zeros), reading the ``token_embeddings`` output."""

    def __init__(self, folder: Path, threads: Optional[int] = None):
        from hfcompress.quantize.onnx import OnnxModel, require_onnxruntime

        require_onnxruntime()
        self.graph = OnnxModel(Path(folder) / ONNX_FILE, threads=threads)
        self.graph.output = OUTPUT
        self.path, self.session = self.graph.path, self.graph.session
        outputs = [o.name for o in self.session.get_outputs()]
        if OUTPUT not in outputs:
            raise HfCompressError(f"{self.path}: the graph has no {OUTPUT!r} output (outputs: {outputs}); not an "
                                  "hfcompress embedding-model graph")

    def __call__(self, **batch) -> torch.Tensor:
        return self.graph.run(batch)

"""Helpers shared by the quantization tests."""

from __future__ import annotations

from pathlib import Path

import torch

SENTENCES = ["the movie was good", "what a bad film", "great acting and story", "boring plot",
             "i love this movie", "the worst film", "very fun", "not good at all"]


def text_batch(loaded) -> dict[str, torch.Tensor]:
    return dict(loaded.preprocessor(SENTENCES, padding=True, return_tensors="pt"))


def image_batch() -> dict[str, torch.Tensor]:
    torch.manual_seed(1)
    return {"pixel_values": torch.randn(8, 3, 32, 32)}


def assert_close_to_fp32(reference: torch.Tensor, quantized: torch.Tensor, tolerance: float) -> None:
    """Bounded logit difference (relative to the logits' range) and argmax agreement on the batch."""
    scale = reference.abs().max().item() + 1e-6
    diff = (reference - quantized).abs().max().item()
    assert diff <= tolerance * scale, f"max logit difference {diff:.4g} > {tolerance} x {scale:.4g}"
    agree = (reference.argmax(-1) == quantized.argmax(-1)).float().mean().item()
    assert agree >= 0.85, f"argmax agreement {agree:.2f}"


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def task_batch(task, loaded, n: int = 8) -> dict[str, torch.Tensor]:
    """``n`` examples of the task's evaluation split (the fixture mirror), collated: inputs that look like
    the calibration data, so that static ranges apply."""
    raw = task.load(task.eval_splits[0], limit=n)
    data = task.preprocess(raw, loaded.preprocessor, train=False)
    batch = task.collator(loaded.preprocessor)([data[i] for i in range(len(data))])
    batch.pop("labels", None)
    return batch

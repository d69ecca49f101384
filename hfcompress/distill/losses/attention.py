"""Attention-map matching (TinyBERT, Jiao et al. 2020)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from hfcompress.distill.losses.base import DistillStep
from hfcompress.errors import ConfigError


def check_heads(student_heads: int, teacher_heads: int, where: str = "attention loss") -> int:
    """Teacher heads per student head; equal counts pair one to one, a multiple averages groups."""
    if not student_heads or not teacher_heads or teacher_heads % student_heads:
        raise ConfigError(f"{where}: cannot pair {student_heads} student attention heads with {teacher_heads} "
                          "teacher heads (the teacher's count must equal or be a multiple of the student's)")
    return teacher_heads // student_heads


class AttentionLoss(torch.nn.Module):
    """Mean over mapped layers of MSE between attention probability maps (B, H, T, T).

    TinyBERT matched pre-softmax scores; transformers exposes only the probabilities
    (``output_attentions``), which carry the same information and are bounded.
    """

    def __init__(self, layer_pairs: list[tuple[int, int]], student_heads: int, teacher_heads: int):
        super().__init__()
        self.layer_pairs = list(layer_pairs)
        self.group = check_heads(student_heads, teacher_heads)

    def forward(self, step: DistillStep) -> torch.Tensor:
        if not step.student_attentions or not step.teacher_attentions or step.student_attentions[0] is None:
            raise RuntimeError("attention loss: the models returned no attention maps (eager attention needed)")
        total = 0.0
        for s_layer, t_layer in self.layer_pairs:
            s = step.student_attentions[s_layer].float()
            t = step.teacher_attentions[t_layer].float()
            if self.group > 1:
                b, h, q, k = t.shape
                t = t.reshape(b, h // self.group, self.group, q, k).mean(2)
            total = total + F.mse_loss(s, t)
        return total / len(self.layer_pairs)

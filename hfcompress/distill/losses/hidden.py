"""Hidden-state / feature matching (FitNets, Romero et al. 2015; TinyBERT, Jiao et al. 2020)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from hfcompress.distill.losses.base import DistillStep


def _projection(s_shape: torch.Size, t_shape: torch.Size) -> torch.nn.Module:
    """Learned map from student to teacher width: Linear on token states, 1x1 conv on feature maps."""
    if len(s_shape) == 4:
        s_dim, t_dim = s_shape[1], t_shape[1]
        return torch.nn.Identity() if s_dim == t_dim else torch.nn.Conv2d(s_dim, t_dim, kernel_size=1, bias=False)
    s_dim, t_dim = s_shape[-1], t_shape[-1]
    return torch.nn.Identity() if s_dim == t_dim else torch.nn.Linear(s_dim, t_dim)


class HiddenStateLoss(torch.nn.Module):
    """Mean over paired modules of MSE(proj(student feature), teacher feature).

    ``pairs`` are (student module path, teacher module path); ``shapes`` their feature shapes
    from a probe batch, used to size the projections before the optimizer is built.
    """

    def __init__(self, pairs: list[tuple[str, str]], shapes: list[tuple[torch.Size, torch.Size]]):
        super().__init__()
        self.pairs = list(pairs)
        for (s_path, t_path), (s_shape, t_shape) in zip(pairs, shapes):
            if len(s_shape) != len(t_shape):
                raise ValueError(f"hidden loss: {s_path} gives {tuple(s_shape)} but {t_path} gives {tuple(t_shape)}")
        self.projections = torch.nn.ModuleList(_projection(s, t) for s, t in shapes)

    def forward(self, step: DistillStep) -> torch.Tensor:
        total = 0.0
        for (s_path, t_path), proj in zip(self.pairs, self.projections):
            s = step.student_feature(s_path)
            t = step.teacher_feature(t_path).float()
            # float32 throughout: under mixed precision the hooked feature is bf16/fp16 while the
            # projection's weights are float32 and this runs outside the model's autocast region
            s = proj(s.float())
            if s.dim() == 4 and s.shape[-2:] != t.shape[-2:]:
                t = F.adaptive_avg_pool2d(t, s.shape[-2:])
            total = total + F.mse_loss(s, t)
        return total / len(self.pairs)

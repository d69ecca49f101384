"""What every loss term sees at one training step."""

from __future__ import annotations

import dataclasses
from typing import Callable, Optional

import torch


@dataclasses.dataclass
class DistillStep:
    """Student and teacher outputs of one batch. Teacher tensors carry no gradient."""

    student_logits: torch.Tensor
    teacher_logits: Optional[torch.Tensor] = None  # None when no term needs the teacher
    labels: Optional[torch.Tensor] = None
    student_feature: Callable[[str], torch.Tensor] = None  # module path -> latest output
    teacher_feature: Callable[[str], torch.Tensor] = None
    student_attentions: Optional[tuple] = None
    teacher_attentions: Optional[tuple] = None
    indices: Optional[torch.Tensor] = None  # dataset row of each example (CRD memory bank)
    attention_mask: Optional[torch.Tensor] = None


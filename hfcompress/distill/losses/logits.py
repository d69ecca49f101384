"""Logit matching (Hinton et al. 2015) and the hard-label term."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from hfcompress.distill.losses.base import DistillStep


def kd_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(teacher || student) of temperature-softened distributions, times T², batch mean.

    Computed in float32 from log-softmax on both sides (``log_target=True``): no log of a
    probability that underflowed to zero, so it stays finite for any finite logits, also when
    the model runs in half precision. The T² factor keeps gradient size independent of T.
    """
    s = F.log_softmax(student_logits.float() / temperature, dim=-1)
    t = F.log_softmax(teacher_logits.float() / temperature, dim=-1)
    return F.kl_div(s, t, reduction="batchmean", log_target=True) * temperature**2


class LogitLoss(torch.nn.Module):
    """``logits`` term: KL·T² for classification, MSE on the raw outputs for regression (STS-B)."""

    def __init__(self, temperature: float, regression: bool = False):
        super().__init__()
        self.temperature = temperature
        self.regression = regression

    def forward(self, step: DistillStep) -> torch.Tensor:
        if self.regression:
            return F.mse_loss(step.student_logits.float().reshape(-1), step.teacher_logits.float().reshape(-1))
        return kd_kl(step.student_logits, step.teacher_logits, self.temperature)


# the label of a row the ``ce`` term skips (a word-replaced copy, labelled by the teacher only): PyTorch's
# ignore_index for class labels; regression labels use NaN
UNLABELLED = -100


class HardLabelLoss(torch.nn.Module):
    """``ce`` term: the ordinary supervised loss against dataset labels, over the labelled rows of the
    batch (zero when it has none)."""

    def __init__(self, regression: bool = False):
        super().__init__()
        self.regression = regression

    def forward(self, step: DistillStep) -> torch.Tensor:
        if step.labels is None:
            raise ValueError("the 'ce' loss needs labels in the batch")
        if self.regression:
            logits, labels = step.student_logits.float().reshape(-1), step.labels.float().reshape(-1)
            keep = ~torch.isnan(labels)
            if not keep.any():
                return logits.sum() * 0.0
            return F.mse_loss(logits[keep], labels[keep])
        labels = step.labels.long()
        if not (labels != UNLABELLED).any():
            return step.student_logits.float().sum() * 0.0
        return F.cross_entropy(step.student_logits.float(), labels, ignore_index=UNLABELLED)

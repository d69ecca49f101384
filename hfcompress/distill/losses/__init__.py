"""Loss terms of a distillation, one module each; :class:`Distiller` weighs and sums them."""

from hfcompress.distill.losses.attention import AttentionLoss, check_heads
from hfcompress.distill.losses.base import DistillStep
from hfcompress.distill.losses.crd import CRDLoss
from hfcompress.distill.losses.hidden import HiddenStateLoss
from hfcompress.distill.losses.logits import HardLabelLoss, LogitLoss, kd_kl

__all__ = ["AttentionLoss", "CRDLoss", "DistillStep", "HardLabelLoss", "HiddenStateLoss", "LogitLoss",
           "check_heads", "kd_kl"]

"""Contrastive representation distillation (CRD, Tian, Krishnan and Isola, ICLR 2020).

Written by hand: no library in this environment provides CRD for transformers models. Student
and teacher pooled features go through linear heads to a shared, L2-normalised space; each
student embedding must pick out its own teacher embedding among negatives (and vice versa).
Negatives come from a memory bank of past embeddings indexed by dataset row, as in the paper,
or from the other examples of the batch (``in_batch_negatives``). The objective here is the
softmax (InfoNCE) form over 1 positive + K negatives rather than the paper's NCE
approximation with a normalising constant: it needs no estimate of Z and is stable on small
batches.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from hfcompress.distill.losses.base import DistillStep


class CRDLoss(torch.nn.Module):
    def __init__(self, student_path: str, teacher_path: str, student_dim: int, teacher_dim: int, n_data: int,
                 feature_dim: int = 128, negatives: int = 4096, temperature: float = 0.07, momentum: float = 0.5,
                 in_batch: bool = False):
        super().__init__()
        self.student_path, self.teacher_path = student_path, teacher_path
        self.embed_s = torch.nn.Linear(student_dim, feature_dim)
        self.embed_t = torch.nn.Linear(teacher_dim, feature_dim)
        self.negatives = min(negatives, max(1, n_data - 1))
        self.temperature = temperature
        self.momentum = momentum
        self.in_batch = in_batch
        if not in_batch:
            # the memory bank is a buffer: saved in checkpoints, moved with the model
            self.register_buffer("memory_s", F.normalize(torch.randn(n_data, feature_dim), dim=1))
            self.register_buffer("memory_t", F.normalize(torch.randn(n_data, feature_dim), dim=1))

    @staticmethod
    def _pooled(x: torch.Tensor) -> torch.Tensor:
        """(B, D) from a pooler output, (B, C, 1, 1) map, or (B, T, D) token states (first token)."""
        if x.dim() == 4:
            return x.mean(dim=(2, 3))
        if x.dim() == 3:
            return x[:, 0]
        return x

    def embed(self, step: DistillStep) -> tuple[torch.Tensor, torch.Tensor]:
        # float32: the hooked features may be half precision (mixed precision), the heads are not
        s = self._pooled(step.student_feature(self.student_path)).float()
        t = self._pooled(step.teacher_feature(self.teacher_path)).float()
        return F.normalize(self.embed_s(s), dim=1), F.normalize(self.embed_t(t), dim=1)

    def forward(self, step: DistillStep) -> torch.Tensor:
        z_s, z_t = self.embed(step)
        if self.in_batch:
            # B x B similarities; the diagonal holds the positives
            logits = z_s @ z_t.T / self.temperature
            target = torch.arange(len(z_s), device=z_s.device)
            return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
        if step.indices is None:
            raise ValueError("crd loss with a memory bank needs dataset indices in the batch")
        idx = step.indices.long()
        n = self.memory_t.shape[0]
        # K random rows per example; the batch size may be smaller than K
        neg = torch.randint(0, n, (len(idx), self.negatives), device=idx.device)
        pos_st = (z_s * z_t).sum(1, keepdim=True)
        neg_t = torch.einsum("bd,bkd->bk", z_s, self.memory_t[neg])  # student anchor, teacher negatives
        neg_s = torch.einsum("bd,bkd->bk", z_t, self.memory_s[neg])  # teacher anchor, student negatives
        target = torch.zeros(len(idx), dtype=torch.long, device=idx.device)
        loss = 0.5 * (F.cross_entropy(torch.cat([pos_st, neg_t], 1) / self.temperature, target)
                      + F.cross_entropy(torch.cat([pos_st, neg_s], 1) / self.temperature, target))
        if self.training:
            with torch.no_grad():
                m = self.momentum
                self.memory_s[idx] = F.normalize(m * self.memory_s[idx] + (1 - m) * z_s.detach(), dim=1)
                self.memory_t[idx] = F.normalize(m * self.memory_t[idx] + (1 - m) * z_t.detach(), dim=1)
        return loss

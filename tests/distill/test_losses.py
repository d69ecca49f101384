"""Each loss term on hand-made tensors: zero when the student matches, positive otherwise, finite."""

import pytest
import torch

from hfcompress.distill.distiller import Distiller
from hfcompress.distill.losses import (AttentionLoss, CRDLoss, DistillStep, HardLabelLoss, HiddenStateLoss,
                                       LogitLoss, check_heads, kd_kl)
from hfcompress.errors import ConfigError


def step(s_logits, t_logits, **kw):
    return DistillStep(student_logits=s_logits, teacher_logits=t_logits, **kw)


def test_kd_is_zero_when_logits_agree_and_positive_otherwise():
    t = torch.randn(8, 3)
    assert kd_kl(t.clone(), t, temperature=2.0).abs().item() < 1e-6
    assert kd_kl(t + 0.5 * torch.randn(8, 3), t, temperature=2.0).item() > 1e-4
    # a constant shift of the logits is the same distribution
    assert kd_kl(t + 3.0, t, temperature=4.0).abs().item() < 1e-5


def test_kd_stays_finite_on_extreme_half_precision_logits():
    s = torch.tensor([[60000.0, -60000.0], [-60000.0, 60000.0]], dtype=torch.float16)
    t = torch.tensor([[-60000.0, 60000.0], [-60000.0, 60000.0]], dtype=torch.float16)
    value = kd_kl(s, t, temperature=1.0)
    assert value.dtype == torch.float32 and torch.isfinite(value) and value.item() > 0


def test_regression_logit_matching_is_mse():
    loss = LogitLoss(temperature=2.0, regression=True)
    assert loss(step(torch.tensor([[1.0], [2.0]]), torch.tensor([[1.0], [4.0]]))).item() == pytest.approx(2.0)
    assert HardLabelLoss(regression=True)(step(torch.tensor([[1.0]]), torch.tensor([[0.0]]),
                                               labels=torch.tensor([3.0]))).item() == pytest.approx(4.0)


def test_hidden_loss_projects_narrow_student_and_is_zero_on_identical_features():
    feats = {"s": torch.randn(2, 5, 8), "t": torch.randn(2, 5, 16)}
    loss = HiddenStateLoss([("s", "t")], [(feats["s"].shape, feats["t"].shape)])
    assert isinstance(loss.projections[0], torch.nn.Linear) and loss.projections[0].out_features == 16
    out = loss(step(torch.zeros(2, 2), torch.zeros(2, 2), student_feature=feats.get, teacher_feature=feats.get))
    assert out.item() > 0
    same = HiddenStateLoss([("t", "t")], [(feats["t"].shape, feats["t"].shape)])
    assert same(step(torch.zeros(2, 2), torch.zeros(2, 2), student_feature=feats.get,
                     teacher_feature=feats.get)).item() == 0.0


def test_hidden_loss_on_resnet_feature_maps_uses_1x1_convs():
    feats = {"s": torch.randn(2, 8, 4, 4), "t": torch.randn(2, 16, 8, 8)}
    loss = HiddenStateLoss([("s", "t")], [(feats["s"].shape, feats["t"].shape)])
    assert isinstance(loss.projections[0], torch.nn.Conv2d)
    assert torch.isfinite(loss(step(torch.zeros(2, 2), torch.zeros(2, 2), student_feature=feats.get,
                                    teacher_feature=feats.get)))


def test_attention_heads_pair_or_fail_clearly():
    assert check_heads(4, 4) == 1 and check_heads(4, 12) == 3
    with pytest.raises(ConfigError, match="cannot pair 5 student attention heads with 12 teacher heads"):
        check_heads(5, 12)
    att = torch.softmax(torch.randn(2, 4, 6, 6), -1)
    teacher = (att.repeat_interleave(3, dim=1),)  # 12 heads, groups of 3 identical heads
    loss = AttentionLoss([(0, 0)], 4, 12)
    assert loss(step(torch.zeros(2, 2), torch.zeros(2, 2), student_attentions=(att,),
                     teacher_attentions=teacher)).item() < 1e-12


@pytest.mark.parametrize("in_batch", [False, True])
def test_crd_step_with_batch_smaller_than_negatives(in_batch):
    torch.manual_seed(0)
    crd = CRDLoss("s", "t", student_dim=8, teacher_dim=16, n_data=50, feature_dim=4, negatives=32,
                  in_batch=in_batch)
    feats = {"s": torch.randn(3, 8, requires_grad=True), "t": torch.randn(3, 16)}
    before = None if in_batch else crd.memory_t[torch.tensor([5, 7, 9])].clone()
    value = crd(step(torch.zeros(3, 2), torch.zeros(3, 2), student_feature=feats.get, teacher_feature=feats.get,
                     indices=torch.tensor([5, 7, 9])))
    assert torch.isfinite(value) and value.item() > 0
    value.backward()
    assert feats["s"].grad is not None and crd.embed_s.weight.grad is not None
    if not in_batch:  # the memory bank moved towards this batch's embeddings
        assert not torch.allclose(before, crd.memory_t[torch.tensor([5, 7, 9])])
        assert crd.negatives == 32


def test_non_finite_term_stops_with_its_name():
    distiller = Distiller({"logits": LogitLoss(2.0), "ce": HardLabelLoss()}, {"logits": 1.0, "ce": 1.0})
    bad = torch.tensor([[float("nan"), 0.0]])
    with pytest.raises(FloatingPointError, match="term 'logits'"):
        distiller(step(bad, torch.zeros(1, 2), labels=torch.tensor([0])))


def test_gradients_flow_only_into_the_student():
    from tests.distill.util import tiny_teacher
    from hfcompress.distill.distiller import build_distiller
    from hfcompress.distill.config import LossConfig
    from hfcompress.distill.students import layer_subset_student

    teacher = tiny_teacher()
    student = layer_subset_student(teacher, [1, 3]).train()
    for p in teacher.parameters():
        p.requires_grad_(False)
    batch = {"input_ids": torch.randint(5, 100, (2, 7)), "attention_mask": torch.ones(2, 7, dtype=torch.long)}
    losses = [LossConfig(name=n) for n in ("logits", "hidden", "attention", "crd")]
    distiller = build_distiller(losses, student, teacher, temperature=2.0, regression=False, n_train=10,
                                probe_batch=batch)
    distiller.attach_hooks(student, teacher)
    s_out = student(**batch, output_attentions=True)
    with torch.no_grad():
        t_out = teacher(**batch, output_attentions=True)
    loss, values = distiller(step(s_out.logits, t_out.logits, student_attentions=s_out.attentions,
                                  teacher_attentions=t_out.attentions, indices=torch.tensor([0, 1])))
    assert set(values) == {"logits", "hidden", "attention", "crd"}
    loss.backward()
    assert all(p.grad is None for p in teacher.parameters())
    assert student.bert.encoder.layer[0].attention.self.query.weight.grad.abs().sum() > 0
    assert any(p.grad is not None for p in distiller.parameters())

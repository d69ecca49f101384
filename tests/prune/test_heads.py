"""Attention-head pruning: slicing equals masking, empty layers work, bad requests fail early."""

import inspect

import pytest
import torch

from hfcompress.prune import heads as H
from hfcompress.prune.config import PruneError
from tests import helpers


def _inputs():
    torch.manual_seed(1)
    ids = torch.randint(5, 150, (3, 9))
    mask = torch.ones(3, 9, dtype=torch.long)
    mask[1, 6:] = 0
    return {"input_ids": ids, "attention_mask": mask}


def _masks(counts, remove):
    return [torch.tensor([0.0 if h in r else 1.0 for h in range(n)]) for n, r in zip(counts, remove)]


@pytest.mark.parametrize("remove", [[[1, 3], [0]], [[0, 1, 2, 3], [2]], [[0, 1, 2, 3], [0, 1, 2, 3]]])
def test_slicing_heads_equals_masking_them(remove):
    model = helpers.tiny_bert()
    counts = H.heads_per_layer(model)
    with torch.no_grad(), H.head_masks(model, _masks(counts, remove)):
        masked = model(**_inputs()).logits
    unmasked = model(**_inputs()).logits.detach()
    kept = H.prune_heads(model, remove)
    with torch.no_grad():
        sliced = model(**_inputs()).logits
    assert kept == [[h for h in range(4) if h not in r] for r in remove]
    assert H.heads_per_layer(model) == [4 - len(r) for r in remove]
    torch.testing.assert_close(sliced, masked, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(sliced, unmasked)  # removing heads did change the function
    q = model.bert.encoder.layer[0].attention.self
    if H.heads_per_layer(model)[0]:
        assert q.query.out_features == q.all_head_size == q.num_attention_heads * 8


def test_hook_masking_equals_native_head_mask_where_transformers_has_it():
    """On transformers 4.x, our mask hook is checked against the library's own head_mask."""
    model = helpers.tiny_bert(attn_implementation="eager")
    if "head_mask" not in inspect.signature(model.forward).parameters:
        pytest.skip("this transformers has no head_mask (5.x); slicing is checked against the hook above")
    remove = [[1, 3], [0, 1, 2, 3]]
    head_mask = torch.stack(_masks(H.heads_per_layer(model), remove))
    with torch.no_grad():
        native = model(**_inputs(), head_mask=head_mask).logits
        H.prune_heads(model, remove)
        sliced = model(**_inputs()).logits
    torch.testing.assert_close(sliced, native, rtol=1e-5, atol=1e-6)


def test_model_with_an_empty_layer_still_trains():
    model = helpers.tiny_bert().train()
    H.prune_heads(model, [[0, 1, 2, 3], []])
    out = model(**_inputs(), labels=torch.tensor([0, 1, 1]))
    out.loss.backward()
    assert model.bert.encoder.layer[0].attention.output.dense.weight.shape == (32, 0)
    assert model.bert.encoder.layer[1].attention.self.query.weight.grad is not None


def test_importance_scores_and_selection():
    model = helpers.tiny_bert()
    batch = {**_inputs(), "labels": torch.tensor([0, 1, 1])}
    grad = H.head_importance(model, "gradient", [batch, batch])
    mag = H.head_importance(model, "magnitude")
    assert [len(s) for s in grad] == [len(s) for s in mag] == [4, 4]
    assert all(torch.all(s >= 0) for s in grad) and all(torch.all(s > 0) for s in mag)
    assert all(torch.isclose(s.norm(), torch.tensor(1.0)) for s in grad)  # per-layer normalisation (Michel et al.)
    assert all(p.requires_grad for p in model.parameters())  # frozen only while scoring

    scores = [torch.tensor([0.1, 0.9, 0.5, 0.7]), torch.tensor([0.2, 0.3, 0.05, 0.8])]
    assert H.heads_to_remove([4, 4], scores, count=3) == [[0], [0, 2]]
    assert H.heads_to_remove([4, 4], scores, amount=0.5, scope="layer") == [[0, 2], [0, 2]]
    with pytest.raises(PruneError, match="removes every attention head"):  # issue 17: refused, like every layer
        H.heads_to_remove([4, 4], scores, amount=1.0)
    assert H.heads_to_remove([4, 4], None, layers={1: [3, 1]}) == [[], [1, 3]]


@pytest.mark.parametrize("kwargs, fragment", [
    ({"count": 9}, "cannot remove 9 heads, the model has only 8"),
    ({"layers": {2: [0]}}, "layer index 2 is out of range"),
    ({"layers": {0: [4]}}, "head index 4 is out of range"),
    ({"amount": -0.1}, "must be in [0, 1]"),
])
def test_bad_requests_fail_with_clear_errors(kwargs, fragment):
    scores = [torch.rand(4), torch.rand(4)]
    with pytest.raises(PruneError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        H.heads_to_remove([4, 4], scores, **kwargs)


def test_non_bert_model_is_refused():
    with pytest.raises(PruneError, match="heads on ResNet .*no attention heads"):
        H.heads_per_layer(helpers.tiny_resnet())

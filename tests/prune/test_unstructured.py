"""Unstructured magnitude pruning: exact sparsity, the cubic schedule, masks fixed between updates."""

import pytest
import torch

from hfcompress.prune import unstructured as U
from tests import helpers


def test_magnitude_masks_zero_exactly_the_smallest():
    weights = {"a": torch.tensor([[0.1, -5.0], [0.2, 3.0]]), "b": torch.tensor([-0.05, 4.0, 0.0])}
    masks = U.magnitude_masks(weights, 3 / 7)
    assert masks["a"].tolist() == [[False, True], [True, True]] and masks["b"].tolist() == [False, True, False]
    per_layer = U.magnitude_masks(weights, 0.5, scope="layer")
    assert int((~per_layer["a"]).sum()) == 2 and int((~per_layer["b"]).sum()) == 2  # round(1.5) == 2
    with pytest.raises(Exception, match="sparsity must be in"):
        U.magnitude_masks(weights, -0.1)


def test_exact_count_even_with_ties_of_zeros():
    w = {"w": torch.zeros(10)}
    masks = U.magnitude_masks(w, 0.3)
    assert int((~masks["w"]).sum()) == 3


@pytest.mark.parametrize("final, initial, start, end", [(0.9, 0.0, 0, 100), (0.5, 0.1, 10, 37), (0.7, 0.0, 3, 4)])
def test_cubic_schedule_hits_target_at_end_step_exactly(final, initial, start, end):
    values = [U.cubic_sparsity(t, final, initial, start, end) for t in range(end + 5)]
    assert values[end] == final and all(v == final for v in values[end:])
    assert values[start] == initial
    assert all(a <= b for a, b in zip(values, values[1:]))  # never un-prunes
    steps = U.update_steps(start, end, 10)
    assert steps[0] == start and steps[-1] == end


def test_one_shot_schedule_is_at_target_from_step_zero():
    assert U.cubic_sparsity(0, 0.7, 0.0, 0, 0) == 0.7 and U.update_steps(0, 0, 1) == [0]


def test_one_shot_with_fine_tune_keeps_sparsity(tmp_path, use_fixture_mirror):
    """One-shot pruning + recovery: the callback holds the one-shot masks fixed while training."""
    from hfcompress.prune.api import prune_model, recover
    from hfcompress.prune.config import PruneConfig
    from hfcompress.tasks import get_task

    tok = helpers.make_tokenizer(tmp_path / "tok")
    model = helpers.tiny_bert(vocab_size=len(tok))
    cfg = PruneConfig(task="sst2", model="m", output_dir="o", method="unstructured", amount=0.5, finetune_epochs=1,
                      batch_size=4, learning_rate=1e-2)
    prune_model(model, cfg)
    before = {n: (w == 0).clone() for n, w in U.prunable_weights(model).items()}
    out = recover(model, cfg, get_task("sst2"), tok)
    assert out["steps"] == 4 and out["schedule"][0][0] == 0
    n = sum(m.numel() for m in before.values())
    assert U.sparsity_of(U.prunable_weights(model)) * n == round(0.5 * n)
    assert all(torch.all(w[before[name]] == 0) for name, w in U.prunable_weights(model).items())


def test_gradual_callback_in_a_trainer_reaches_target_and_keeps_masks(tmp_path, use_fixture_mirror):
    """A real Trainer run: sparsity grows on schedule, hits the target at end_step, stays there."""
    from transformers import Trainer, TrainingArguments

    from hfcompress.tasks import get_task

    task = get_task("sst2")
    tok = helpers.make_tokenizer(tmp_path / "tok")
    model = helpers.tiny_bert(vocab_size=len(tok)).train()
    data = task.preprocess(task.load("train"), tok, 32, train=True)  # 16 rows -> 8 steps of 2
    cb = U.GradualPruningCallback(model, 0.75, start_step=1, end_step=5, n_updates=4)
    args = TrainingArguments(output_dir=str(tmp_path / "ckpt"), per_device_train_batch_size=2, num_train_epochs=1,
                             learning_rate=1e-2, save_strategy="no", report_to="none", disable_tqdm=True,
                             use_cpu=True)
    Trainer(model=model, args=args, train_dataset=data, data_collator=task.collator(tok), callbacks=[cb]).train()
    steps = [s for s, _ in cb.history]
    reached = [v for _, v in cb.history]
    assert steps == [1, 2, 3, 4, 5]
    assert all(a < b for a, b in zip(reached, reached[1:]))
    n = sum(w.numel() for w in cb.weights.values())
    assert reached[-1] * n == round(0.75 * n)
    # three more optimizer steps after end_step (with lr 1e-2) did not revive any pruned weight
    assert U.sparsity_of(U.prunable_weights(model)) * n == round(0.75 * n)
    for name, w in U.prunable_weights(model).items():
        assert torch.all(w[~cb.masks[name]] == 0)


def test_pack_unpack_is_lossless():
    w = torch.randn(7, 5)
    w[w.abs() < 0.8] = 0
    packed = U.pack_state_dict({"x.weight": w, "x.bias": torch.ones(7)}, ["x.weight"])
    assert "x.weight" not in packed and packed["x.bias"].shape == (7,)
    U.unpack_state_dict(packed)
    assert torch.equal(packed["x.weight"], w) and set(packed) == {"x.weight", "x.bias"}

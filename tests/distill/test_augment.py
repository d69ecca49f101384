"""TinyBERT-style word-replacement augmentation of text distillation (hfcompress.distill.augment)."""

import math

import numpy as np
import pytest
import torch
from datasets import Dataset

from hfcompress.distill import DistillConfig
from hfcompress.distill.api import distill
from hfcompress.distill.augment import WordReplacer, augment_dataset, nearest_words
from hfcompress.distill.config import TextAugmentConfig
from hfcompress.distill.losses.base import DistillStep
from hfcompress.distill.losses.logits import UNLABELLED, HardLabelLoss
from hfcompress.errors import ConfigError
from hfcompress.hub.load import load
from tests.helpers import make_tokenizer


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    return make_tokenizer(tmp_path_factory.mktemp("tok"))


def clustered_embeddings(tok, groups, dim=16, seed=0):
    """Random embeddings, except that the words of each group sit close together."""
    g = torch.Generator().manual_seed(seed)
    emb = torch.randn(len(tok), dim, generator=g)
    for words in groups:
        centre = torch.randn(dim, generator=g) * 5
        for w in words:
            emb[tok.convert_tokens_to_ids(w)] = centre + 0.01 * torch.randn(dim, generator=g)
    return emb


def rows(tok, texts, pairs=None, labels=None):
    enc = tok(texts, pairs) if pairs else tok(texts)
    data = {k: enc[k] for k in ("input_ids", "token_type_ids", "attention_mask")}
    if labels is not None:
        data["labels"] = labels
    return Dataset.from_dict(data)


def test_neighbours_are_the_closest_whole_words(tok):
    emb = clustered_embeddings(tok, [("good", "great", "best"), ("movie", "film", "story")])
    assert set(nearest_words(tok, emb, "good", k=2)) == {"great", "best"}
    assert set(nearest_words(tok, emb, "film", k=2)) == {"movie", "story"}
    # never a special token, a single letter or a continuation piece, never the word itself
    near = nearest_words(tok, emb, "awful", k=20)
    assert "awful" not in near and all(len(w) > 1 and w.isalpha() and not w.startswith("##") for w in near)


def test_only_whole_one_token_words_are_replaceable(tok):
    replacer = WordReplacer(tok, torch.randn(len(tok), 8), neighbours=3)
    ids = tok("good movie zq", "bad")["input_ids"]  # "zq" is z ##q: two pieces of one word
    tokens = tok.convert_ids_to_tokens(ids)
    assert tokens == ["[CLS]", "good", "movie", "z", "##q", "[SEP]", "bad", "[SEP]"]
    assert replacer.replaceable(np.array(ids)).tolist() == [False, True, True, False, False, False, True, False]


def test_copies_keep_lengths_masks_and_segments_and_change_only_words(tok):
    emb = clustered_embeddings(tok, [("good", "great", "best", "fun"), ("movie", "film", "story", "plot")])
    texts = ["a good movie", "the film was great fun", "bad plot zq", "best story"] * 8
    data = rows(tok, texts, pairs=["good"] * len(texts), labels=[i % 2 for i in range(len(texts))])
    cfg = TextAugmentConfig(copies=3, replace_prob=0.5, neighbours=3)
    out, stats = augment_dataset(data, tok, emb, cfg, seed=1)
    n = len(data)
    assert len(out) == 4 * n and stats["rows_after"] == 4 * n and stats["copies"] == 3
    assert out[:n]["input_ids"] == data["input_ids"]  # the originals come first, untouched
    replacer = WordReplacer(tok, emb, 3)
    changed = 0
    for k in range(1, 4):
        for i in range(n):
            a, b = data[i], out[k * n + i]
            assert len(a["input_ids"]) == len(b["input_ids"])
            assert a["attention_mask"] == b["attention_mask"] and a["token_type_ids"] == b["token_type_ids"]
            allowed = replacer.replaceable(np.array(a["input_ids"]))
            for pos, (x, y) in enumerate(zip(a["input_ids"], b["input_ids"])):
                if x != y:
                    changed += 1
                    assert allowed[pos] and replacer.word[y], (a, b)
    assert changed == stats["replaced_words"] > 0
    # about replace_prob of the replaceable words change (a word's neighbours never include itself)
    assert 0.35 < stats["replaced_share"] < 0.65, stats
    # the copies are labelled by the teacher only: the hard-label term skips them
    assert out[:n]["labels"] == data["labels"] and set(out[n:]["labels"]) == {UNLABELLED}
    again, _ = augment_dataset(data, tok, emb, cfg, seed=1)
    other, _ = augment_dataset(data, tok, emb, cfg, seed=2)
    assert again["input_ids"] == out["input_ids"] and other["input_ids"] != out["input_ids"]


def test_label_copies_and_regression_labels(tok):
    emb = torch.randn(len(tok), 8)
    data = rows(tok, ["good movie", "bad film"], labels=[0.5, 4.0])
    out, _ = augment_dataset(data, tok, emb, TextAugmentConfig(copies=1, neighbours=3))
    assert out["labels"][:2] == [0.5, 4.0] and all(math.isnan(v) for v in out["labels"][2:])
    kept, _ = augment_dataset(data, tok, emb, TextAugmentConfig(copies=1, neighbours=3, label_copies=True))
    assert kept["labels"] == [0.5, 4.0, 0.5, 4.0]
    # a user's dataset with a ClassLabel column (which refuses -100)
    from datasets import ClassLabel

    named = rows(tok, ["good movie", "bad film"], labels=[1, 0]).cast_column("labels", ClassLabel(names=["neg", "pos"]))
    out, _ = augment_dataset(named, tok, emb, TextAugmentConfig(copies=1, neighbours=3))
    assert out["labels"] == [1, 0, UNLABELLED, UNLABELLED]


def test_hard_label_term_skips_unlabelled_rows():
    logits = torch.randn(4, 3, requires_grad=True)
    labels = torch.tensor([2, UNLABELLED, 0, UNLABELLED])
    loss = HardLabelLoss()(DistillStep(student_logits=logits, labels=labels))
    expected = torch.nn.functional.cross_entropy(logits[[0, 2]], labels[[0, 2]])
    assert torch.allclose(loss, expected)
    none = HardLabelLoss()(DistillStep(student_logits=logits, labels=torch.full((4,), UNLABELLED)))
    assert none.item() == 0.0 and none.requires_grad
    reg = torch.randn(3, 1, requires_grad=True)
    target = torch.tensor([1.0, float("nan"), 3.0])
    loss = HardLabelLoss(regression=True)(DistillStep(student_logits=reg, labels=target))
    assert torch.allclose(loss, torch.nn.functional.mse_loss(reg.reshape(-1)[[0, 2]], target[[0, 2]]))
    loss.backward()
    assert torch.isfinite(reg.grad).all()


def base(teacher, out, **kw):
    d = dict(task="sst2", teacher=str(teacher), output_dir=str(out), student={"kind": "layers", "every_k": 2},
             epochs=1, batch_size=4, eval_batch_size=8, max_length=16, eval_repeats=1, logging_steps=1,
             save_steps=1000, eval_at_end=False, max_train_samples=8)
    d.update(kw)
    return DistillConfig.from_dict(d)


def test_distillation_trains_on_the_copies_and_records_them(tmp_path, tiny_teacher_dir, use_fixture_mirror):
    plain = distill(base(tiny_teacher_dir, tmp_path / "plain", offline_teacher=True))
    aug = distill(base(tiny_teacher_dir, tmp_path / "aug", offline_teacher=True,
                       text_augmentation={"copies": 2, "neighbours": 5}))
    assert aug["global_step"] == 3 * plain["global_step"]  # three times the rows, same batch size
    result = load(tmp_path / "aug").record.stages[-1].result
    assert result["text_augmentation"]["rows"] == 8 and result["text_augmentation"]["rows_after"] == 24
    assert result["text_augmentation"]["replaced_words"] > 0
    assert load(tmp_path / "plain").record.stages[-1].result["text_augmentation"] is None


@pytest.mark.parametrize("change, fragment", [
    ({"text_augmentation": {"replace_prob": 0}}, "text_augmentation.replace_prob: must be in"),
    ({"text_augmentation": {"copies": 0}}, "text_augmentation.copies"),
    ({"text_augmentation": {"copies": 2}, "losses": [{"name": "ce"}]}, "labelled by the teacher only"),
    ({"text_augmentation": {"neighbours": 500}}, "distill.text_augmentation.neighbours: 500 neighbours"),
    ({"text_augmentation": {"copies": 1}, "task": "cifar10"}, "cifar10 is an image task"),
])
def test_bad_augmentation_fails_before_training(change, fragment, tmp_path, tiny_teacher_dir, use_fixture_mirror):
    with pytest.raises(ConfigError, match=fragment):
        distill(base(tiny_teacher_dir, tmp_path / "s", **change))
    assert not (tmp_path / "s" / "config.json").exists()


def test_cli_flags_turn_augmentation_on(tmp_path, tiny_teacher_dir, use_fixture_mirror, capsys):
    from hfcompress.cli.main import EXIT_USER_ERROR, main

    args = ["distill", "--task", "sst2", "--teacher", str(tiny_teacher_dir), "--output-dir", str(tmp_path / "s"),
            "--max-train-samples", "8", "--batch-size", "4", "--max-length", "16", "--no-eval-at-end"]
    assert main(args + ["--text-augmentation-copies", "1", "--text-augmentation-neighbours", "5"]) == 0
    aug = load(tmp_path / "s").record.stages[-1].result["text_augmentation"]
    assert aug["rows"] == 8 and aug["rows_after"] == 16
    assert main(args + ["--overwrite", "--text-augmentation-replace-prob", "2"]) == EXIT_USER_ERROR
    assert "text_augmentation.replace_prob: must be in (0, 1], got 2.0" in capsys.readouterr().err

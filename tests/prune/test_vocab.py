"""Vocabulary pruning: embeddings and tokenizer shrink together; the task's text tokenizes and
classifies exactly as before; the result reloads as a plain model folder."""

import json

import pytest
import torch
import transformers as T

import hfcompress
from hfcompress.errors import ConfigError
from hfcompress.prune import PruneConfig, prune
from hfcompress.prune.vocab import prune_vocab
from hfcompress.tasks import get_task
from tests import helpers

TEXT = ["the movie was good", "what a bad film", "boring plot", "i love this movie"]


def _tokens(tok, texts):
    return [tok.convert_ids_to_tokens(tok(t)["input_ids"]) for t in texts]


def test_seen_text_tokenizes_and_classifies_exactly(tmp_path):
    tok = helpers.make_tokenizer(tmp_path / "tok")
    model = helpers.tiny_bert(vocab_size=len(tok))
    enc = tok(TEXT, padding=True, return_tensors="pt")
    with torch.no_grad():
        before = model(**enc).logits
    used = {i for row in tok(TEXT)["input_ids"] for i in row}
    new_tok, result = prune_vocab(model, tok, used, keep_chars=False)
    assert result["vocab_size"] < result["vocab_size_before"] == len(tok)
    assert len(new_tok) == model.config.vocab_size == model.get_input_embeddings().num_embeddings == result["vocab_size"]
    assert _tokens(new_tok, TEXT) == _tokens(tok, TEXT)  # same pieces, new ids
    new_enc = new_tok(TEXT, padding=True, return_tensors="pt")
    assert new_enc["input_ids"].max() < result["vocab_size"]
    with torch.no_grad():
        after = model(**new_enc).logits
    torch.testing.assert_close(after, before)


def test_unseen_words_fall_back_to_kept_characters(tmp_path):
    tok = helpers.make_tokenizer(tmp_path / "tok")
    model = helpers.tiny_bert(vocab_size=len(tok))
    used = {i for row in tok(["good"])["input_ids"] for i in row}
    new_tok, _ = prune_vocab(model, tok, used, keep_chars=True)
    pieces = new_tok.convert_ids_to_tokens(new_tok("film")["input_ids"])
    assert "[UNK]" not in pieces and "".join(p.lstrip("#") for p in pieces[1:-1]) == "film"
    assert new_tok.pad_token_id == 0 and new_tok.cls_token_id is not None


def test_prune_recipe_saves_a_reloadable_folder(tiny_bert_dir, tmp_path, use_fixture_mirror):
    out = tmp_path / "vocab"
    result = prune(PruneConfig(task="sst2", model=str(tiny_bert_dir), output_dir=str(out), method="vocab",
                               vocab_keep_chars=False, eval_limit=0))
    stage = result["result"]
    assert stage["vocab_size"] < stage["vocab_size_before"] and stage["params_after"] < stage["params_before"]
    config = json.loads((out / "config.json").read_text())
    assert config["vocab_size"] == stage["vocab_size"]
    assert config["hfcompress"]["stages"][-1]["method"] == "prune_vocab"
    task = get_task("sst2")
    original = hfcompress.load(str(tiny_bert_dir), task=task)
    pruned = hfcompress.load(str(out), task=task)
    sentences = [r["sentence"] for r in task.load("validation")]  # fixture text, all seen in train
    assert len(pruned.preprocessor) == stage["vocab_size"]
    with torch.no_grad():
        a = original.model(**original.preprocessor(sentences, padding=True, return_tensors="pt")).logits
        b = pruned.model(**pruned.preprocessor(sentences, padding=True, return_tensors="pt")).logits
    seen = {i for s in task.load("train")["sentence"] for i in original.preprocessor(s)["input_ids"]}
    if all(set(original.preprocessor(s)["input_ids"]) <= seen for s in sentences):
        torch.testing.assert_close(b, a)
    else:  # validation words the train split never produced segment differently: only shapes agree
        assert a.shape == b.shape


def test_extra_text_and_first_ids_are_kept_too(tiny_bert_dir, tmp_path, use_fixture_mirror):
    """vocab_texts keeps the tokens of the user's unlabelled text, vocab_keep_first the first N ids: text the
    train split lacks then segments as the full tokenizer does."""
    task = get_task("sst2")
    original = hfcompress.load(str(tiny_bert_dir), task=task)
    tok = original.preprocessor
    train = {i for s in task.load("train")["sentence"] for i in tok(s)["input_ids"]}
    unseen = [w for w in tok.get_vocab() if w.isalpha() and len(w) > 3 and tok.convert_tokens_to_ids(w) not in train]
    assert len(unseen) >= 3, "the fixture tokenizer needs whole words the fixture train split lacks"
    text = tmp_path / "in-domain.txt"
    text.write_text(f"{unseen[0]} {unseen[1]}\n\n{unseen[2]}\n", encoding="utf-8")
    stages = {}
    for name, extra in {"train": {}, "text": {"vocab_texts": [str(text)]}, "first": {"vocab_keep_first": 50}}.items():
        out = tmp_path / name
        stages[name] = prune(PruneConfig(task="sst2", model=str(tiny_bert_dir), output_dir=str(out), method="vocab",
                                         vocab_keep_chars=False, eval_limit=0, **extra))["result"]
    assert stages["text"]["extra_text_lines"] == 2 and stages["text"]["extra_text_tokens_added"] >= 3
    assert stages["text"]["vocab_size"] == stages["train"]["vocab_size"] + stages["text"]["extra_text_tokens_added"]
    pruned = hfcompress.load(str(tmp_path / "text"), task=task).preprocessor
    sentence = " ".join(unseen[:3])
    assert _tokens(pruned, [sentence]) == _tokens(tok, [sentence])
    first = hfcompress.load(str(tmp_path / "first"), task=task).preprocessor
    assert set(tok.convert_ids_to_tokens(list(range(50)))) <= set(first.get_vocab())
    # (special tokens among the first ids are kept anyway: the count is of ids the text did not use)
    assert stages["first"]["keep_first_tokens_added"] >= stages["first"]["vocab_size"] - stages["train"]["vocab_size"] > 0


@pytest.mark.parametrize("data, fragment", [
    ({"amount": 0.5}, "prune.amount: method 'vocab' keeps the tokens"),
    ({"vocab_samples": 0}, "prune.vocab_samples: must be > 0"),
    ({"vocab_keep_first": -1}, "prune.vocab_keep_first: must be >= 0"),
    ({"vocab_texts": ["no/such/file.txt"]}, r"prune.vocab_texts\[0\]: no such file 'no/such/file.txt'"),
    ({"method": "heads", "amount": 0.5, "vocab_keep_first": 10}, "prune.vocab_keep_first: only method 'vocab'"),
])
def test_vocab_config_errors_name_the_field(data, fragment):
    with pytest.raises(ConfigError, match=fragment):
        PruneConfig.from_dict({"task": "sst2", "model": "m", "output_dir": "o", "method": "vocab", **data},
                              where="prune")


def test_image_model_is_refused_before_writing(tmp_path, use_fixture_mirror):
    folder = tmp_path / "resnet"
    helpers.tiny_resnet().save_pretrained(folder)
    with pytest.raises(hfcompress.errors.HfCompressError):
        prune(PruneConfig(task="cifar10", model=str(folder), output_dir=str(tmp_path / "o"), method="vocab"))
    assert not (tmp_path / "o").exists()


# ---- byte-level BPE and Unigram tokenizers (RoBERTa, ModernBERT, XLM-R, ALBERT, DeBERTa-v2) ----------------
from tests import families as F  # noqa: E402

SEEN = ["the movie was good", "what a bad film", "i love this movie", "boring plot", "the worst film"]
ODD = ["naïve café, über-cool!", "東京 🤖 ok?", "zzyzx qwvj 1234567", "Ünïcödé\ttabs  and  spaces"]
NON_WORDPIECE = [f for f in F.TEXT_FAMILIES if F.TOKENIZER_KIND[f] != "WordPiece"]


def _family_pair(family, tmp_path):
    tok = F.make_family_tokenizer(family, tmp_path / "tok")
    torch.manual_seed(0)
    model = T.AutoModelForSequenceClassification.from_config(F.text_config(family, len(tok), tok=tok)).eval()
    return tok, model


@pytest.mark.parametrize("family", NON_WORDPIECE)
def test_kept_token_text_gives_the_same_outputs(family, tmp_path):
    tok, model = _family_pair(family, tmp_path)
    assert json.loads(tok.backend_tokenizer.to_str())["model"]["type"] == F.TOKENIZER_KIND[family]
    enc = tok(SEEN, padding=True, return_tensors="pt")
    with torch.no_grad():
        before = model(**enc).logits
    used = {i for row in tok(SEEN)["input_ids"] for i in row}
    new_tok, result = prune_vocab(model, tok, used, keep_chars=False)
    assert result["tokenizer_model"] == F.TOKENIZER_KIND[family]
    assert result["vocab_size"] < result["vocab_size_before"] == len(tok)
    assert len(new_tok) == model.config.vocab_size == model.get_input_embeddings().num_embeddings
    assert type(new_tok) is type(tok)
    assert _tokens(new_tok, SEEN) == _tokens(tok, SEEN)  # same pieces ...
    new_enc = new_tok(SEEN, padding=True, return_tensors="pt")
    assert not torch.equal(new_enc["input_ids"], enc["input_ids"])  # ... under new ids
    assert new_enc["input_ids"].max() < result["vocab_size"]
    with torch.no_grad():
        after = model(**new_enc).logits
    torch.testing.assert_close(after, before)
    for name in ("pad_token_id", "cls_token_id", "sep_token_id", "unk_token_id", "mask_token_id"):
        old_id, new_id = getattr(tok, name), getattr(new_tok, name)
        if old_id is not None:  # the same special token, wherever it is now numbered
            assert new_tok.convert_ids_to_tokens(new_id) == tok.convert_ids_to_tokens(old_id)
    assert model.config.pad_token_id == new_tok.pad_token_id


@pytest.mark.parametrize("family", NON_WORDPIECE)
def test_added_tokens_and_post_processor_ids_are_remapped(family, tmp_path):
    tok, model = _family_pair(family, tmp_path)
    new_tok, _ = prune_vocab(model, tok, {i for row in tok(SEEN)["input_ids"] for i in row}, keep_chars=False)
    data = json.loads(new_tok.backend_tokenizer.to_str())
    vocab = new_tok.get_vocab()
    for added in data["added_tokens"]:
        assert vocab[added["content"]] == added["id"] < len(new_tok)

    def ids_in(node):  # every (token, id) the post-processor stores
        if isinstance(node, dict):
            if isinstance(node.get("ids"), list):
                yield from zip(node["tokens"], node["ids"])
            for key in ("sep", "cls"):
                if isinstance(node.get(key), list):
                    yield tuple(node[key])
            for value in node.values():
                yield from ids_in(value)
        elif isinstance(node, list):
            for value in node:
                yield from ids_in(value)

    pairs = list(ids_in(data["post_processor"]))
    assert pairs and all(vocab[token] == i for token, i in pairs)
    ids = new_tok("good film", "bad movie")["input_ids"]  # a pair goes through the template too
    assert ids[0] == new_tok.cls_token_id and ids[-1] == new_tok.sep_token_id


@pytest.mark.parametrize("family", ["roberta", "modernbert"])
def test_byte_level_bpe_never_produces_unk(family, tmp_path):
    tok, model = _family_pair(family, tmp_path)
    new_tok, result = prune_vocab(model, tok, {i for row in tok(SEEN)["input_ids"] for i in row}, keep_chars=False)
    assert result["vocab_size"] >= 256 + 5  # the byte alphabet and the specials
    merges = json.loads(new_tok.backend_tokenizer.to_str())["model"]["merges"]
    assert 0 < len(merges) < len(json.loads(tok.backend_tokenizer.to_str())["model"]["merges"])
    for text in ODD + ["a movie nobody saw: Zoë's 'filmography' was... tremendous"]:
        ids = new_tok(text, add_special_tokens=False)["input_ids"]
        assert new_tok.unk_token_id not in ids
        assert new_tok.decode(ids) == text  # byte-level: lossless on any text


@pytest.mark.parametrize("family", ["xlm-roberta", "albert", "deberta-v2"])
def test_unigram_degrades_to_shorter_pieces_or_unk(family, tmp_path):
    tok, model = _family_pair(family, tmp_path)
    used = {i for row in tok(["good"])["input_ids"] for i in row}
    new_tok, result = prune_vocab(model, tok, used, keep_chars=True)
    assert result["vocab_size"] < len(tok)
    unseen = "boring films"  # whole-word pieces of the original are gone: single characters remain
    old_pieces = tok.convert_ids_to_tokens(tok(unseen, add_special_tokens=False)["input_ids"])
    new_pieces = new_tok.convert_ids_to_tokens(new_tok(unseen, add_special_tokens=False)["input_ids"])
    assert len(new_pieces) > len(old_pieces) and new_tok.unk_token not in new_pieces
    assert "".join(new_pieces).replace("▁", " ").strip().lower() == unseen
    for text in ODD:  # characters never seen in training become unk, nothing crashes
        ids = new_tok(text)["input_ids"]
        assert max(ids) < len(new_tok)
    assert new_tok.unk_token_id in new_tok("東京", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        model(**new_tok(ODD, padding=True, return_tensors="pt"))


@pytest.mark.parametrize("family", ["roberta", "xlm-roberta"])
def test_tied_lm_head_rows_follow_the_same_map(family, tmp_path):
    tok = F.make_family_tokenizer(family, tmp_path / "tok")
    torch.manual_seed(0)
    model = T.AutoModelForMaskedLM.from_config(F.text_config(family, len(tok), tok=tok)).eval()
    enc = tok(SEEN, padding=True, return_tensors="pt")
    with torch.no_grad():
        before = model(**enc).logits
    used = {i for row in tok(SEEN)["input_ids"] for i in row}
    from hfcompress.prune.vocab import tokens_to_keep

    keep = tokens_to_keep(tok, used, keep_chars=False)
    new_tok, result = prune_vocab(model, tok, used, keep_chars=False)
    assert model.get_output_embeddings().weight.shape[0] == result["vocab_size"] == len(keep)
    assert model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    with torch.no_grad():
        after = model(**new_tok(SEEN, padding=True, return_tensors="pt")).logits
    torch.testing.assert_close(after, before[..., keep])
    model.save_pretrained(tmp_path / "mlm")
    again = T.AutoModelForMaskedLM.from_pretrained(tmp_path / "mlm").eval()
    with torch.no_grad():
        torch.testing.assert_close(again(**new_tok(SEEN, padding=True, return_tensors="pt")).logits, after)


def test_slow_and_unsupported_tokenizers_are_refused_in_one_line(tmp_path, use_fixture_mirror):
    from hfcompress.prune.config import PruneError
    from tokenizers import Tokenizer, models, pre_tokenizers

    model = helpers.tiny_bert(vocab_size=384)
    slow = T.ByT5Tokenizer()  # a Python ("slow") tokenizer: no tokenizer.json to rewrite
    with pytest.raises(PruneError, match="needs a fast tokenizer") as info:
        prune_vocab(model, slow, {5})
    assert "\n" not in str(info.value) and "ByT5Tokenizer" in str(info.value)
    backend = Tokenizer(models.WordLevel({"[UNK]": 0, "good": 1}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    word_level = T.PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]")
    with pytest.raises(PruneError, match="WordPiece, BPE and Unigram"):
        prune_vocab(model, word_level, {1})
    assert model.config.vocab_size == 384
    folder = tmp_path / "byt5-bert"  # through the recipe: refused before anything is written
    model.save_pretrained(folder)
    slow.save_pretrained(folder)
    with pytest.raises(hfcompress.errors.HfCompressError, match="needs a fast tokenizer"):
        prune(PruneConfig(task="sst2", model=str(folder), output_dir=str(tmp_path / "o"), method="vocab", eval_limit=0))
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("family", ["roberta", "xlm-roberta"])
def test_pruned_family_folder_reloads_with_the_same_outputs(family, tmp_path, use_fixture_mirror):
    source = F.save_family(family, tmp_path / "source")
    out = tmp_path / "vocab"
    stage = prune(PruneConfig(task="sst2", model=str(source), output_dir=str(out), method="vocab",
                              vocab_keep_chars=False, eval_limit=0))["result"]
    assert stage["tokenizer_model"] == F.TOKENIZER_KIND[family]
    assert stage["vocab_size"] < stage["vocab_size_before"] and stage["params_after"] < stage["params_before"]
    assert json.loads((out / "config.json").read_text())["vocab_size"] == stage["vocab_size"]
    task = get_task("sst2")
    original, pruned = hfcompress.load(str(source), task=task), hfcompress.load(str(out), task=task)
    sentences = list(task.load("train")["sentence"])  # every token of these was kept
    with torch.no_grad():
        a = original.model(**original.preprocessor(sentences, padding=True, return_tensors="pt")).logits
        b = pruned.model(**pruned.preprocessor(sentences, padding=True, return_tensors="pt")).logits
    torch.testing.assert_close(b, a)

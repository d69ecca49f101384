"""Sentence-transformers folders on a tiny headless BERT (the layout written by hand): load with pooling,
drop a layer, prune the vocabulary, distil, save, and load back in the same layout."""

import json

import pytest
import torch
from transformers import BertModel

from hfcompress import embeddings as E
from tests import helpers


def _st_folder(folder):
    tok = helpers.make_tokenizer(folder / "_tok")
    torch.manual_seed(0)
    model = BertModel(helpers.tiny_bert(vocab_size=len(tok)).config, add_pooling_layer=False).eval()
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    (folder / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": 32, "pooling_mode_mean_tokens": True, "pooling_mode_cls_token": False}))
    (folder / "2_Normalize").mkdir()
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 64, "do_lower_case": False}))
    return folder


def test_compress_and_reload_an_embedding_model(tmp_path):
    teacher = E.load_embedding_model(_st_folder(tmp_path / "st"))
    emb = teacher.encode(helpers.SENTENCES)
    assert emb.shape == (len(helpers.SENTENCES), 32)
    assert torch.allclose(emb.norm(dim=-1), torch.ones(len(emb)), atol=1e-5)  # the Normalize module
    import copy

    student = copy.deepcopy(teacher)
    E.drop_layers(student, [0])
    E.distill_embeddings(student, teacher, helpers.SENTENCES, epochs=1, batch_size=4)
    result = E.prune_vocab(student, helpers.SENTENCES)
    assert result["vocab_size"] < result["vocab_size_before"]
    out = E.save_sentence_transformer(student, tmp_path / "out")
    assert json.loads((out / "modules.json").read_text()) == teacher.modules
    assert (out / "2_Normalize").is_dir() and (out / "1_Pooling" / "config.json").is_file()
    again = E.load_embedding_model(out)
    assert again.model.config.num_hidden_layers == 1
    assert torch.allclose(again.encode(helpers.SENTENCES), student.encode(helpers.SENTENCES), atol=1e-6)
    st = pytest.importorskip("sentence_transformers")
    theirs = torch.as_tensor(st.SentenceTransformer(str(out), device="cpu").encode(helpers.SENTENCES))
    assert torch.allclose(theirs, student.encode(helpers.SENTENCES), atol=1e-5)


def test_a_classifier_folder_is_not_an_embedding_model(tiny_bert_dir):
    with pytest.raises(E.EmbeddingModelError, match="no modules.json"):
        E.load_embedding_model(tiny_bert_dir)

"""all-MiniLM-L6-v2 as a sentence-transformers model: distil (DistilBERT-style student, every other layer,
embedding MSE + cosine to the teacher) -> vocabulary pruning -> INT8, scored on the real STS-B validation
split by the Spearman of cosine similarities (MTEB's STS score); the saved folder loads in
``sentence_transformers.SentenceTransformer`` with the same embeddings."""

import copy
import os
from pathlib import Path

import pytest
import torch

from hfcompress import embeddings as E

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def stsb_mirror():
    root = os.environ.get("HFCOMPRESS_DATASETS_MIRROR")
    if not root or not Path(root, "nyu-mll/glue/stsb").is_dir():
        pytest.skip("HFCOMPRESS_DATASETS_MIRROR has no GLUE STS-B")
    return root


def test_minilm_distil_vocab_int8(minilm_path, stsb_mirror, tmp_path, record_property):
    teacher = E.load_embedding_model(minilm_path)
    base = E.sts_spearman(teacher, mirror=stsb_mirror)
    assert base > 0.75  # all-MiniLM-L6-v2 scores ~0.87 on STS-B validation

    s1, s2, _ = E.stsb_pairs("train", stsb_mirror, limit=1024)
    train_text = s1 + s2
    student = copy.deepcopy(teacher)
    E.drop_layers(student, [0, 2, 4])  # keep layers 1, 3, 5
    assert student.model.config.num_hidden_layers == 3
    E.distill_embeddings(student, teacher, train_text, epochs=1, batch_size=64, lr=1e-4)
    distilled = E.sts_spearman(student, mirror=stsb_mirror)

    s1v, s2v, _ = E.stsb_pairs("validation", stsb_mirror)
    vocab = E.prune_vocab(student, s1 + s2 + s1v + s2v)  # the text the model will embed (as a deployment would)
    assert vocab["vocab_size"] < vocab["vocab_size_before"]
    pruned = E.sts_spearman(student, mirror=stsb_mirror)

    out = E.save_sentence_transformer(student, tmp_path / "minilm-small")
    st = pytest.importorskip("sentence_transformers")
    loaded = st.SentenceTransformer(str(out), device="cpu")
    sentences = s1v[:16]
    ours = student.encode(sentences)
    theirs = torch.as_tensor(loaded.encode(sentences, convert_to_numpy=True))
    assert torch.allclose(ours, theirs, atol=1e-5), (ours - theirs).abs().max()
    assert sum(f.stat().st_size for f in out.glob("*.safetensors")) < \
        sum(f.stat().st_size for f in Path(minilm_path).glob("*.safetensors")) / 2

    # INT8: dynamic quantization of the Linear layers (in memory; see the module docs for saving)
    from hfcompress.quantize.torch_int8 import quantize_dynamic_linear

    int8 = copy.copy(student)
    int8.model = quantize_dynamic_linear(copy.deepcopy(student.model))
    quantized = E.sts_spearman(int8, mirror=stsb_mirror)
    scores = {"teacher": base, "distilled_3_layers": distilled, "vocab_pruned": pruned, "int8": quantized,
              "vocab_size": vocab["vocab_size"]}
    print("STS-B validation Spearman:", scores)
    for k, v in scores.items():
        record_property(k, v)
    assert quantized > 0.6 and pruned > 0.6

"""all-MiniLM-L6-v2 as a sentence-transformers model through compress(): distil (3 of 6 layers, embedding MSE +
cosine to the teacher) -> vocabulary pruning -> ONNX Runtime dynamic INT8, every stage a sentence-transformers
folder; scored on the real STS-B validation split by the Spearman of cosine similarities (MTEB's STS score);
the INT8 folder loads in ``sentence_transformers.SentenceTransformer`` with the same embeddings."""

import os
from pathlib import Path

import pytest
import torch

import hfcompress
from hfcompress.config import EvalConfig
from hfcompress.evaluation import evaluate_model

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def stsb_mirror():
    root = os.environ.get("HFCOMPRESS_DATASETS_MIRROR")
    if not root or not Path(root, "nyu-mll/glue/stsb").is_dir():
        pytest.skip("HFCOMPRESS_DATASETS_MIRROR has no GLUE STS-B")
    return root


def test_minilm_distil_vocab_int8_loads_in_sentence_transformers(minilm_path, stsb_mirror, tmp_path, record_property):
    torch.set_num_threads(1)  # a shared 2-core box: one thread is faster than two contended ones
    small = hfcompress.compress(minilm_path, [
        {"distill": {"student": {"kind": "layers", "layers": [1, 3, 5]}, "epochs": 1, "max_train_samples": 128,
                     "batch_size": 64,
                     "learning_rate": 1e-4}},
        {"prune": {"method": "vocab"}},
        {"quantize": {"method": "onnx-dynamic"}},
    ], task="stsb", output_dir=tmp_path / "small")
    assert small.record.methods == ["distill", "prune_vocab", "quantize"] and small.loader == "sentence-transformers:onnx"
    assert small.config.num_hidden_layers == 3 and small.config.vocab_size < 30522

    # the INT8 folder on the whole real validation split (the original scores 0.8672 there: benchmarks/embeddings.py)
    record = evaluate_model(EvalConfig(task="stsb", model=str(small.path), batch_size=128, repeats=2))
    assert record["n_examples"] == 1500 and record["main_metric"] == "spearmanr"
    assert record["loader"] == "sentence-transformers:onnx"
    spearman, size = record["metrics"]["spearmanr"], record["efficiency"]["size_on_disk_bytes"]
    print(f"STS-B validation Spearman of the distilled, vocabulary-pruned INT8 model: {spearman:.4f} "
          f"({size / 2 ** 20:.1f} MiB)")
    record_property("stsb_spearman_int8", spearman)
    assert spearman > 0.75  # 128 training pairs are a smoke budget; the benchmark measures a real one
    original = sum(f.stat().st_size for f in Path(minilm_path).glob("*.safetensors"))
    assert size < original / 4

    st = pytest.importorskip("sentence_transformers")
    model = st.SentenceTransformer(str(small.path), device="cpu", trust_remote_code=True)
    sentences = ["A man is playing a guitar.", "A woman is slicing an onion.", "The cat sleeps on the sofa."]
    theirs = torch.as_tensor(model.encode(sentences, convert_to_numpy=True))
    assert torch.allclose(small.encode(sentences), theirs, atol=1e-5)

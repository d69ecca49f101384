"""ONNX graph fusion is checked, not assumed: fused node counts for BERT (uniform and head-pruned with
per-layer head counts) and ResNet, outputs against PyTorch, and compressed inputs (pruned, vocabulary-pruned)."""

import json
from pathlib import Path

import onnx
import pytest
import torch

import hfcompress
from hfcompress.errors import ConfigError
from hfcompress.prune import PruneConfig, prune
from hfcompress.prune import heads as H
from hfcompress.quantize import QuantizeConfig, quantize
from hfcompress.quantize import onnx as O
from hfcompress.tasks import get_task
from tests import helpers
from tests.quantize.util import assert_close_to_fp32, task_batch, text_batch

pytestmark = pytest.mark.onnx
pytest.importorskip("onnxruntime", reason='needs the onnx extra: pip install -e ".[onnx]"')


def _stage(folder):
    return json.loads((folder / "config.json").read_text())["hfcompress"]["stages"][-1]


def _attention_heads(path):
    return [next(a.i for a in n.attribute if a.name == "num_heads")
            for n in onnx.load(str(path)).graph.node if n.op_type == "Attention"]


@pytest.fixture(scope="module")
def sharp_bert_dir(tmp_path_factory):
    """A tiny BERT with large random weights: its logits depend strongly on the attention, so a wrong
    head count shows (with the default 0.02 init the logits are ~0.02 and nearly input-independent)."""
    return helpers.save_tiny_bert(tmp_path_factory.mktemp("sharp-bert"), initializer_range=0.3)


def test_bert_fuses_attention_layernorm_gelu_per_layer(sharp_bert_dir, tmp_path, use_fixture_mirror, capsys):
    task = get_task("sst2")
    fp32 = hfcompress.load(sharp_bert_dir, task=task)
    out = tmp_path / "o2"
    summary = quantize(QuantizeConfig(task="sst2", model=str(sharp_bert_dir), output_dir=str(out),
                                      method="onnx-fp32", optimization_level="O2"))
    layers = fp32.config.num_hidden_layers
    # one Attention and one BiasGelu per layer; EmbedLayerNormalization + two SkipLayerNormalization per layer
    assert summary["fused"]["attention"] == layers and summary["fused"]["gelu"] == layers
    assert summary["fused"]["ops"] == {"Attention": layers, "EmbedLayerNormalization": 1,
                                       "SkipLayerNormalization": 2 * layers, "BiasGelu": layers}
    assert _stage(out)["result"]["fused"] == summary["fused"]
    assert f"onnx O2: fused attention {layers}, layernorm {2 * layers + 1}, gelu {layers}" in capsys.readouterr().out
    assert _attention_heads(out / "model.onnx") == [4] * layers
    batch = text_batch(fp32)
    assert_close_to_fp32(fp32.predict(batch), hfcompress.load(out, task=task).predict(batch), 1e-4)


def test_o1_fuses_no_attention_and_o3_approximates_gelu(tiny_bert_dir, tmp_path, use_fixture_mirror):
    task = get_task("sst2")
    fp32 = hfcompress.load(tiny_bert_dir, task=task)
    batch = text_batch(fp32)
    o1 = quantize(QuantizeConfig(task="sst2", model=str(tiny_bert_dir), output_dir=str(tmp_path / "o1"),
                                 method="onnx-fp32", optimization_level="O1"))
    assert o1["fused"]["attention"] == 0
    o3 = quantize(QuantizeConfig(task="sst2", model=str(tiny_bert_dir), output_dir=str(tmp_path / "o3"),
                                 method="onnx-fp32", optimization_level="O3"))
    assert o3["fused"]["attention"] == 2 and o3["fused"]["ops"]["FastGelu"] == 2
    for name in ("o1", "o3"):
        assert_close_to_fp32(fp32.predict(batch), hfcompress.load(tmp_path / name, task=task).predict(batch), 1e-3)


def test_per_layer_head_counts_fuse_with_their_own_counts(tmp_path):
    """Layers with 3, 2 and 0 of 4 heads: each fused Attention gets its layer's count; the graph matches
    PyTorch, and the one-num_heads-for-all fusion (the optimizer's behaviour) is measurably wrong."""
    model = helpers.tiny_bert(num_hidden_layers=3, initializer_range=0.3)
    H.prune_heads(model, [[0], [0, 1], [0, 1, 2, 3]])
    assert H.heads_per_layer(model) == [3, 2, 0]
    torch.manual_seed(0)
    ids = torch.randint(5, 100, (3, 11))
    mask = torch.ones_like(ids)
    mask[0, 6:] = 0
    batch = {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}
    O.export_onnx(model, "text", tmp_path / "export.onnx", batch)
    assert model.config._attn_implementation != "eager"  # restored after the export
    O.optimize_text(tmp_path / "export.onnx", tmp_path / "fused.onnx", model, "O2")
    assert _attention_heads(tmp_path / "fused.onnx") == [3, 2]  # the empty layer has no attention to fuse
    with torch.no_grad():
        reference = model(**batch).logits
    assert_close_to_fp32(reference, O.OnnxModel(tmp_path / "fused.onnx")(**batch).logits, 1e-4)
    # without the per-layer counts the same graph computes wrong attention (ONNX Runtime only warns)
    wrong = onnx.load(str(tmp_path / "fused.onnx"))
    for node in wrong.graph.node:
        if node.op_type == "Attention":
            next(a for a in node.attribute if a.name == "num_heads").i = 4
    onnx.save(wrong, str(tmp_path / "wrong.onnx"))
    diff = (O.OnnxModel(tmp_path / "wrong.onnx")(**batch).logits - reference).abs().max()
    assert diff > 1e-2 * reference.abs().max()


def test_head_pruned_folder_exports_and_quantizes(sharp_bert_dir, tmp_path, use_fixture_mirror):
    task = get_task("sst2")
    pruned = tmp_path / "pruned"
    prune(PruneConfig(task="sst2", model=str(sharp_bert_dir), output_dir=str(pruned), method="heads",
                      layers={0: [0], 1: [0, 1]}, eval_limit=0))
    fp32 = hfcompress.load(pruned, task=task)
    assert H.heads_per_layer(fp32.model) == [3, 2]
    batch = text_batch(fp32)
    for method, tolerance in (("onnx-fp32", 1e-4), ("onnx-dynamic", 0.1)):
        out = tmp_path / method
        summary = quantize(QuantizeConfig(task="sst2", model=str(pruned), output_dir=str(out), method=method,
                                          optimization_level="O2"))
        assert summary["fused"]["attention"] == 2
        loaded = hfcompress.load(out, task=task)
        assert [s.method for s in loaded.record.stages][-2:] == ["prune_heads", "quantize"]
        assert_close_to_fp32(fp32.predict(batch), loaded.predict(batch), tolerance)
    assert _attention_heads(tmp_path / "onnx-fp32" / "model.onnx") == [3, 2]


@pytest.mark.parametrize("method, tolerance", [("onnx-fp32", 1e-4), ("onnx-static", 0.2)])
def test_resnet_fusions(method, tolerance, tiny_resnet_dir, tmp_path, use_fixture_mirror):
    task = get_task("cifar10")
    float_model = hfcompress.load(tiny_resnet_dir, task=task)
    batch = task_batch(task, float_model)
    out = tmp_path / "onnx"
    summary = quantize(QuantizeConfig(task="cifar10", model=str(tiny_resnet_dir), output_dir=str(out), method=method,
                                      optimization_level="O2", calibration_samples=16))
    batchnorms = sum(isinstance(m, torch.nn.BatchNorm2d) for m in float_model.model.modules())
    assert summary["fused"]["batchnorm_folded"] == batchnorms == 6  # every BatchNorm folded into its Conv
    if method == "onnx-fp32":
        assert summary["fused"]["fused_conv"] >= 3  # Conv+ReLU -> FusedConv (extended level)
    else:
        assert summary["fused"]["fused_conv"] == 0  # kept at the basic level: the quantizer needs plain Conv
    assert_close_to_fp32(float_model.predict(batch), hfcompress.load(out, task=task).predict(batch), tolerance)


def test_static_qoperator_and_format_checks(tiny_bert_dir, tmp_path, use_fixture_mirror):
    task = get_task("sst2")
    fp32 = hfcompress.load(tiny_bert_dir, task=task)
    out = tmp_path / "qop"
    summary = quantize(QuantizeConfig(task="sst2", model=str(tiny_bert_dir), output_dir=str(out), method="onnx-static",
                                      onnx_format="qoperator", calibration_samples=16, calibration="entropy"))
    assert summary["quant_format"] == "QOperator" and summary["calibration"]["method"] == "entropy"
    ops = O.op_counts(out / "model.onnx")
    assert ops["QLinearMatMul"] + ops["QGemm"] > 0 and ops["QuantizeLinear"] > 0
    batch = text_batch(fp32)
    assert_close_to_fp32(fp32.predict(batch), hfcompress.load(out, task=task).predict(batch), 0.15)
    # dynamic INT8 is QOperator whatever onnx_format says (auto passes one config to every candidate)
    dynamic = quantize(QuantizeConfig(task="sst2", model=str(tiny_bert_dir), output_dir=str(tmp_path / "dyn"),
                                      method="onnx-dynamic", onnx_format="qdq"))
    assert dynamic["quant_format"] == "QOperator"


def test_folder_with_at_sign_and_vocab_pruned_input(tiny_bert_dir, tmp_path, use_fixture_mirror):
    task = get_task("sst2")
    small = tmp_path / "vocab@v1"
    prune(PruneConfig(task="sst2", model=str(tiny_bert_dir), output_dir=str(small), method="vocab", eval_limit=0))
    fp32 = hfcompress.load(small, task=task)
    assert fp32.config.vocab_size < hfcompress.load(tiny_bert_dir, task=task).config.vocab_size
    out = tmp_path / "user@host" / "onnx@rev1"
    quantize(QuantizeConfig(task="sst2", model=str(small), output_dir=str(out), method="onnx-fp32",
                            optimization_level="O2"))
    loaded = hfcompress.load(out, task=task)
    assert loaded.loader == "onnx"
    batch = text_batch(fp32)
    assert_close_to_fp32(fp32.predict(batch), loaded.predict(batch), 1e-4)
    # collated batches carry labels and may lack token types: only the graph's inputs are fed
    extra = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"],
             "labels": torch.zeros(len(batch["input_ids"]), dtype=torch.long)}
    assert torch.allclose(loaded.predict(extra), loaded.predict(batch))


def test_static_text_keeps_ffn_output_projections_in_float(tiny_bert_dir, tmp_path, use_fixture_mirror):
    """Fused (BiasGelu) or not (the erf pattern), the GELU-fed MatMuls are found: one per layer."""
    task = get_task("sst2")
    model = hfcompress.load(tiny_bert_dir, task=task).model
    O.export_onnx(model, "text", tmp_path / "e.onnx", {"input_ids": torch.tensor([[2, 7, 9, 3, 0]]),
                                                      "attention_mask": torch.tensor([[1, 1, 1, 1, 0]])})
    O.optimize_text(tmp_path / "e.onnx", tmp_path / "o.onnx", model, "O2")
    assert len(O.gelu_fed_matmuls(tmp_path / "e.onnx")) == len(O.gelu_fed_matmuls(tmp_path / "o.onnx")) == 2
    for level in (None, "O2"):
        out = tmp_path / f"static-{level}"
        summary = quantize(QuantizeConfig(task="sst2", model=str(tiny_bert_dir), output_dir=str(out),
                                          method="onnx-static", optimization_level=level, calibration_samples=16))
        assert summary["kept_float"] == {"ffn_output_matmuls": 2}


def test_onnx_folder_pushes_and_loads_by_hub_id(tiny_bert_dir, tmp_path, use_fixture_mirror, monkeypatch):
    """push uploads the graph; the real Hub resolution (snapshot_download, offline cache) loads it back."""
    import fnmatch
    import shutil

    import huggingface_hub.constants as c

    from hfcompress.hub.card import model_card
    from hfcompress.hub.push import push_to_hub
    
    task = get_task("sst2")
    out = tmp_path / "onnx"
    quantize(QuantizeConfig(task="sst2", model=str(tiny_bert_dir), output_dir=str(out), method="onnx-dynamic",
                            optimization_level="O2"))
    local = hfcompress.load(out, task=task)
    (out / "README.md").write_text(model_card(local.record, task))
    uploads = []

    class Api:
        def create_repo(self, repo_id, **kw):
            pass

        def upload_folder(self, folder_path, allow_patterns, **kw):
            uploads.extend(p.name for p in Path(folder_path).iterdir()
                           if any(fnmatch.fnmatch(p.name, pat) for pat in allow_patterns))
            return "https://hub/acme/onnx/commit/1"

    assert push_to_hub(out, "acme/onnx", api=Api()).endswith("commit/1")
    assert "model.onnx" in uploads and "config.json" in uploads
    cache = tmp_path / "hub"
    snapshot = cache / "models--acme--onnx" / "snapshots" / ("b" * 40)
    snapshot.mkdir(parents=True)
    for name in uploads:
        shutil.copy2(out / name, snapshot / name)
    (cache / "models--acme--onnx" / "refs").mkdir()
    (cache / "models--acme--onnx" / "refs" / "main").write_text("b" * 40)
    monkeypatch.setattr(c, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)
    loaded = hfcompress.load("acme/onnx", task=task)
    assert loaded.loader == "onnx" and loaded.path == snapshot
    batch = text_batch(local)
    assert torch.equal(loaded.predict(batch), local.predict(batch))


def test_distilled_then_ffn_pruned_student_exports(tmp_path, use_fixture_mirror, one_thread):
    """A distilled 2-layer student (record + rebuild), FFN-pruned to per-layer widths, through ONNX O2."""
    from hfcompress.distill import DistillConfig
    from hfcompress.distill.api import distill
    from tests.distill.util import save_tiny_teacher

    task = get_task("sst2")
    teacher = save_tiny_teacher(tmp_path / "teacher")
    student = tmp_path / "student"
    distill(DistillConfig.from_dict(dict(task="sst2", teacher=str(teacher), output_dir=str(student),
                                         student={"kind": "layers", "every_k": 2}, epochs=1, batch_size=8,
                                         eval_batch_size=8, max_length=16, eval_repeats=1, save_steps=1000)))
    pruned = tmp_path / "ffn"
    prune(PruneConfig(task="sst2", model=str(student), output_dir=str(pruned), method="ffn", amount=0.5,
                      eval_limit=0))
    fp32 = hfcompress.load(pruned, task=task)
    assert [s.method for s in fp32.record.stages][-2:] == ["distill", "prune_ffn"]
    out = tmp_path / "onnx"
    summary = quantize(QuantizeConfig(task="sst2", model=str(pruned), output_dir=str(out), method="onnx-fp32",
                                      optimization_level="O2"))
    assert summary["fused"]["attention"] == 2 and summary["fused"]["gelu"] == 2
    batch = text_batch(fp32)
    assert_close_to_fp32(fp32.predict(batch), hfcompress.load(out, task=task).predict(batch), 1e-4)


@pytest.mark.parametrize("level", [None, "O2"])
def test_static_text_with_int8_embedding_tables(tiny_bert_dir, tmp_path, use_fixture_mirror, level):
    """quantize_embeddings stores the tables int8 (the file shrinks), keeps the outputs close, and at O2
    keeps the embedding lookups unfused (EmbedLayerNormalization has no static INT8 form)."""
    task = get_task("sst2")
    fp32 = hfcompress.load(tiny_bert_dir, task=task)
    folders = {}
    for emb in (False, True):
        folders[emb] = out = tmp_path / f"static-{level}-{emb}"
        summary = quantize(QuantizeConfig(task="sst2", model=str(tiny_bert_dir), output_dir=str(out),
                                          method="onnx-static", optimization_level=level, calibration_samples=16,
                                          quantize_embeddings=emb))
        assert ("embeddings" in summary) == emb
    assert "bert.embeddings.word_embeddings.weight" in summary["embeddings"]["int8_tables"]
    graph = onnx.load(str(folders[True] / "model.onnx")).graph
    int8 = {t.name for t in graph.initializer if len(t.dims) == 2
            and t.data_type in (onnx.TensorProto.INT8, onnx.TensorProto.UINT8)}
    vocab = fp32.config.vocab_size
    assert any(t.dims[0] == vocab for t in graph.initializer if t.name in int8)  # the word table itself
    assert not any(t.dims[:1] == [vocab] for t in graph.initializer if t.data_type == onnx.TensorProto.FLOAT)
    assert O.op_counts(folders[True] / "model.onnx")["EmbedLayerNormalization"] == 0
    size = {emb: (f / "model.onnx").stat().st_size for emb, f in folders.items()}
    table = vocab * fp32.config.hidden_size
    assert size[False] - size[True] > 2.5 * table  # 4 bytes -> 1 byte per table entry
    batch = text_batch(fp32)
    assert_close_to_fp32(fp32.predict(batch), hfcompress.load(folders[True], task=task).predict(batch), 0.15)
    # and reloading it records the choice in the compression record
    record = json.loads((folders[True] / "config.json").read_text())
    assert "quantize_embeddings" in json.dumps(record)


def test_quantize_embeddings_is_checked_before_anything_runs(tiny_resnet_dir, tiny_bert_dir, tmp_path):
    with pytest.raises(ConfigError, match=r"quantize\.quantize_embeddings: only onnx-static"):
        QuantizeConfig.from_dict({"task": "sst2", "model": str(tiny_bert_dir), "output_dir": str(tmp_path / "a"),
                                  "method": "onnx-dynamic", "quantize_embeddings": True}, where="quantize")
    with pytest.raises(ConfigError, match=r"quantize\.quantize_embeddings: cifar10 is an image task"):
        quantize(QuantizeConfig(task="cifar10", model=str(tiny_resnet_dir), output_dir=str(tmp_path / "b"),
                                method="onnx-static", quantize_embeddings=True))
    assert not (tmp_path / "b").exists()


@pytest.fixture(scope="module")
def wide_bert_dir(tmp_path_factory):
    """Rows of 128 (two 4-bit blocks): the tiny BERT's 32 would fit in less than one block."""
    return helpers.save_tiny_bert(tmp_path_factory.mktemp("wide-bert"), hidden_size=128, num_hidden_layers=1)


@pytest.mark.parametrize("method,level", [("onnx-dynamic", None), ("onnx-dynamic", "O2"), ("onnx-static", None)])
def test_int4_word_embeddings(wide_bert_dir, tmp_path, use_fixture_mirror, method, level):
    """embedding_bits 4: the word table becomes one GatherBlockQuantized (about half of int8's bytes),
    the other tables are left to the INT8 method, outputs stay close, and the folder reloads and evaluates."""
    task = get_task("sst2")
    fp32 = hfcompress.load(wide_bert_dir, task=task)
    static = {"calibration_samples": 16, "quantize_embeddings": True} if method == "onnx-static" else {}
    folders = {}
    for bits in (8, 4):
        folders[bits] = out = tmp_path / f"{method}-{level}-{bits}"
        summary = quantize(QuantizeConfig(task="sst2", model=str(wide_bert_dir), output_dir=str(out), method=method,
                                          optimization_level=level, embedding_bits=bits, **static))
        assert ("embeddings_int4" in summary) == (bits == 4)
    assert summary["embeddings_int4"]["tables"] == ["bert.embeddings.word_embeddings.weight"]
    graph = onnx.load(str(folders[4] / "model.onnx")).graph
    packed = [n for n in graph.node if n.op_type == "GatherBlockQuantized"]
    assert len(packed) == 1 and packed[0].input[0].startswith("bert.embeddings.word_embeddings")
    assert O.op_counts(folders[4] / "model.onnx")["EmbedLayerNormalization"] == 0
    vocab, hidden = fp32.config.vocab_size, fp32.config.hidden_size
    table = next(t for t in graph.initializer if t.name == packed[0].input[0])
    assert table.data_type == onnx.TensorProto.INT4 and len(table.raw_data) == vocab * hidden // 2
    size = {bits: (f / "model.onnx").stat().st_size for bits, f in folders.items()}
    assert size[4] < size[8]  # (by about a third of the table here: the graph around it is most of the file)
    batch = text_batch(fp32)
    assert_close_to_fp32(fp32.predict(batch), hfcompress.load(folders[4], task=task).predict(batch), 0.15)
    result = hfcompress.evaluate_model(hfcompress.EvalConfig(task="sst2", model=str(folders[4]), limit=8, repeats=1))
    assert result["efficiency"]["parameters"] > vocab * hidden


def test_embedding_bits_is_checked_before_anything_runs(tiny_resnet_dir, tiny_bert_dir, tmp_path):
    base = {"task": "sst2", "model": str(tiny_bert_dir), "output_dir": str(tmp_path / "a")}
    with pytest.raises(ConfigError, match=r"quantize\.embedding_bits: only onnx-dynamic and onnx-static"):
        QuantizeConfig.from_dict({**base, "method": "torch-dynamic", "embedding_bits": 4}, where="quantize")
    with pytest.raises(ConfigError, match=r"quantize\.embedding_bits: onnx-static keeps the tables float"):
        QuantizeConfig.from_dict({**base, "method": "onnx-static", "embedding_bits": 8}, where="quantize")
    with pytest.raises(ConfigError, match=r"quantize\.embedding_bits"):
        QuantizeConfig.from_dict({**base, "method": "onnx-dynamic", "embedding_bits": 2}, where="quantize")
    with pytest.raises(ConfigError, match=r"quantize\.embedding_bits: cifar10 is an image task"):
        quantize(QuantizeConfig(task="cifar10", model=str(tiny_resnet_dir), output_dir=str(tmp_path / "b"),
                                method="onnx-dynamic", embedding_bits=4))
    assert not (tmp_path / "b").exists()

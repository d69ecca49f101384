"""Sentence-transformers embedding models on a tiny random headless BERT in the ST layout: evaluated by the
cosine similarity of their embeddings, compressed through the CLI, compress() and a pipeline recipe, loaded
back by ``SentenceTransformer(path)`` with the same embeddings, and refused where a method does not apply."""

import json
from pathlib import Path

import pytest
import torch
from scipy.stats import pearsonr, spearmanr
from transformers import BertModel

import hfcompress
from hfcompress.cli.main import main
from tests import helpers

EXIT_USER_ERROR = 2


def write_st_folder(folder: Path, seed: int = 0) -> Path:
    """A tiny random BertModel + tokenizer + modules.json + 1_Pooling (mean) + 2_Normalize, as sentence-transformers saves."""
    tok = helpers.make_tokenizer(folder / "_tok")
    torch.manual_seed(seed)
    model = BertModel(helpers.tiny_bert(vocab_size=len(tok), num_hidden_layers=2).config, add_pooling_layer=False).eval()
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


@pytest.fixture(scope="module")
def st_dir(tmp_path_factory) -> Path:
    return write_st_folder(tmp_path_factory.mktemp("st") / "tiny-st")


def sentence_transformer(path, trust: bool = False):
    st = pytest.importorskip("sentence_transformers")
    return st.SentenceTransformer(str(path), device="cpu", trust_remote_code=trust)


def error_line(capsys) -> str:
    """The one error line a refused command prints (progress bars of model loading aside), no traceback."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if ": error: " in line]
    assert "Traceback" not in err and len(lines) == 1, err[-2000:]
    return lines[0]


def assert_same_embeddings(path, trust: bool = False, atol: float = 1e-5):
    ours = hfcompress.load(path).encode(helpers.SENTENCES)
    theirs = torch.as_tensor(sentence_transformer(path, trust).encode(helpers.SENTENCES, convert_to_numpy=True))
    assert ours.shape == theirs.shape and torch.allclose(ours, theirs, atol=atol), (ours - theirs).abs().max()
    assert torch.allclose(ours.norm(dim=-1), torch.ones(len(ours)), atol=1e-4)  # the Normalize module is kept


def test_evaluate_scores_cosine_spearman_of_the_embeddings(st_dir, tmp_path, capsys, use_fixture_mirror):
    out = tmp_path / "eval.json"
    assert main(["evaluate", "--task", "stsb", "--model", str(st_dir), "--repeats", "2", "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["schema"] == "hfcompress.eval/1" and record["task"] == "stsb"
    assert record["loader"] == "sentence-transformers:pytorch" and record["main_metric"] == "spearmanr"
    assert {"latency_ms_median", "size_on_disk_bytes", "parameters"} <= set(record["efficiency"])
    # the same number computed here from the model's own embeddings: cosine of the two sentences vs gold
    from hfcompress.tasks import get_task

    rows = get_task("stsb").load("validation")
    em = hfcompress.load(st_dir)
    cos = torch.nn.functional.cosine_similarity(em.encode(rows["sentence1"]), em.encode(rows["sentence2"])).numpy()
    assert record["n_examples"] == len(rows)
    assert record["metrics"]["spearmanr"] == pytest.approx(spearmanr(cos, rows["label"])[0], abs=1e-6)
    assert record["metrics"]["pearson"] == pytest.approx(pearsonr(cos, rows["label"])[0], abs=1e-5)
    assert "spearmanr" in capsys.readouterr().out


def test_compress_distil_vocab_int8_each_stage_loads_in_sentence_transformers(st_dir, tmp_path, use_fixture_mirror):
    small = hfcompress.compress(str(st_dir), [
        {"distill": {"student": {"kind": "layers", "layers": [1]}, "epochs": 1, "batch_size": 4}},
        {"prune": {"method": "vocab"}},
        {"quantize": {"method": "onnx-dynamic"}},
    ], task="stsb", output_dir=tmp_path / "small")
    assert small.loader == "sentence-transformers:onnx" and small.record.methods == ["distill", "prune_vocab", "quantize"]
    distilled, pruned, int8 = (tmp_path / "small" / n for n in ("01-distill", "02-prune", "03-quantize"))
    assert hfcompress.load(distilled).config.num_hidden_layers == 1
    assert hfcompress.load(pruned).config.vocab_size < hfcompress.load(st_dir).config.vocab_size
    for folder in (distilled, pruned, int8):
        assert (folder / "modules.json").is_file() and (folder / "1_Pooling" / "config.json").is_file()
        assert not list(folder.glob("*.bin")) and not list(folder.glob("*.pt"))
    # float folders load with sentence-transformers' own Transformer module, no trust needed
    assert json.loads((pruned / "modules.json").read_text())[0]["type"] == "sentence_transformers.models.Transformer"
    assert_same_embeddings(distilled)
    assert_same_embeddings(pruned)
    # the ONNX folder runs hfcompress's module (ONNX Runtime): sentence-transformers >= 6 wants trust_remote_code
    assert json.loads((int8 / "modules.json").read_text())[0]["type"] == "hfcompress.embeddings.st_module.Transformer"
    with pytest.raises(ValueError, match="trust_remote_code"):
        sentence_transformer(int8)
    assert_same_embeddings(int8, trust=True)
    # SentenceTransformer.save of it (sentence-transformers 6 writes its own Pooling format) loads in both again
    sentence_transformer(int8, trust=True).save(str(tmp_path / "resaved"))
    assert_same_embeddings(tmp_path / "resaved", trust=True)
    # and INT8 stays close to the float model it came from
    ours = small.encode(helpers.SENTENCES)
    assert torch.nn.functional.cosine_similarity(ours, hfcompress.load(pruned).encode(helpers.SENTENCES)).min() > 0.95


def test_cli_drop_layers_heads_and_torch_int8(st_dir, tmp_path, capsys, use_fixture_mirror):
    dropped, heads, int8 = tmp_path / "dropped", tmp_path / "heads", tmp_path / "int8"
    assert main(["prune", "--task", "stsb", "--model", str(st_dir), "--output-dir", str(dropped),
                 "--method", "drop_layers", "--drop", "0"]) == 0
    assert json.loads((dropped / "prune_eval.json").read_text())["pruned"]["loader"] == "sentence-transformers:pytorch"
    assert hfcompress.load(dropped).config.num_hidden_layers == 1
    assert_same_embeddings(dropped)
    # heads by weight magnitude: a reshaped skeleton, rebuilt by hfcompress's loader (its ST module)
    assert main(["prune", "--task", "stsb", "--model", str(st_dir), "--output-dir", str(heads), "--method", "heads",
                 "--importance", "magnitude", "--amount", "0.5"]) == 0
    assert json.loads((heads / "modules.json").read_text())[0]["type"].startswith("hfcompress.")
    assert_same_embeddings(heads, trust=True)
    assert main(["quantize", "--task", "stsb", "--model", str(dropped), "--output-dir", str(int8),
                 "--method", "torch-dynamic"]) == 0
    assert hfcompress.load(int8).loader == "sentence-transformers:torch-int8"
    assert_same_embeddings(int8, trust=True)
    assert main(["evaluate", "--model", str(int8), "--repeats", "2"]) == 0  # the task comes from the record
    assert "spearmanr" in capsys.readouterr().out


def test_pipeline_recipe_runs_on_an_embedding_model(st_dir, tmp_path, use_fixture_mirror):
    from hfcompress.config import load_recipe
    from hfcompress.pipeline.run import PipelineConfig, run_pipeline

    data = load_recipe(Path(__file__).parent.parent / "recipes" / "embeddings-minilm.yaml").pipeline.to_dict()
    data.update(model=str(st_dir), output_dir=str(tmp_path / "pipe"), evaluate={"repeats": 2})
    data["stages"][0]["distill"].update(student={"kind": "layers", "layers": [1]}, max_train_samples=8, epochs=1)
    records = run_pipeline(PipelineConfig.from_dict(data))
    assert [r["label"] for r in records] == ["01-distill", "02-prune", "03-quantize"]
    assert [r["loader"] for r in records] == ["sentence-transformers:pytorch"] * 2 + ["sentence-transformers:onnx"]
    assert all(-1 <= r["metrics"]["spearmanr"] <= 1 for r in records)
    assert records[-1]["compression"]["stages"][-1]["result"]["scheme"] == "dynamic"


@pytest.mark.parametrize("args, fragment", [
    (["distill", "--task", "stsb", "--teacher", "{st}", "--student-kind", "tinybert"], "distill.student.kind"),
    (["prune", "--task", "stsb", "--model", "{st}", "--method", "drop_layers", "--count", "1"], "prune.importance"),
    (["prune", "--task", "stsb", "--model", "{st}", "--method", "heads", "--amount", "0.5"], "prune.importance"),
    (["prune", "--task", "stsb", "--model", "{st}", "--method", "vocab", "--finetune-epochs", "1"],
     "prune.finetune_epochs"),
    (["quantize", "--task", "stsb", "--model", "{st}", "--method", "bnb-8bit"], "quantize.method"),
    (["quantize", "--task", "stsb", "--model", "{st}", "--method", "auto"], "quantize.method"),
])
def test_methods_that_do_not_apply_are_refused_before_writing(args, fragment, st_dir, tmp_path, capsys,
                                                              use_fixture_mirror):
    out = tmp_path / "out"
    argv = [a.format(st=st_dir) for a in args] + ["--output-dir", str(out)]
    assert main(argv) == EXIT_USER_ERROR
    assert fragment in error_line(capsys)
    assert not out.exists()


def test_classifier_tasks_keep_the_encoder_path_and_compressed_folders_refuse_them(st_dir, tmp_path, capsys,
                                                                                     use_fixture_mirror):
    from hfcompress.methods.registry import model_kind

    # the original checkpoint with a classification task is the encoder a classifier is fine-tuned from
    assert model_kind(str(st_dir), "sst2") is None and model_kind(str(st_dir), "stsb") is not None
    assert hfcompress.load(st_dir, task="sst2").loader == "pytorch"
    # a folder hfcompress wrote as an embedding model is scored on similarity only: one line for another task
    dropped = tmp_path / "dropped"
    hfcompress.compress(str(st_dir), {"prune": {"method": "drop_layers", "drop": [0]}}, task="stsb", output_dir=dropped)
    assert main(["evaluate", "--task", "sst2", "--model", str(dropped)]) == EXIT_USER_ERROR
    assert "sentence-pair similarity" in error_line(capsys)
    assert main(["train", "--task", "stsb", "--model", str(dropped), "--output-dir", str(tmp_path / "t")]) == \
        EXIT_USER_ERROR
    assert "compressed embedding model" in error_line(capsys) and not (tmp_path / "t").exists()

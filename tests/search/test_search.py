"""The search of ``hfcompress compress`` on tiny models and fixture data.

Timings of tiny models are noise, so the targets here are either generous (any quantized model meets
them) or impossible (none can): what is tested is the walk, the stop, the records and the resume.
"""

import json

import pytest

import hfcompress
from hfcompress.cli.main import main
from hfcompress.search import CompressConfig
from hfcompress.search import run as search_run
from hfcompress.search.run import search

FAST = {"batch_size": 4, "estimate_samples": 8, "timing_rounds": 3}


def config(tmp_path, model, **kw):
    return CompressConfig.from_dict({"task": "sst2", "model": str(model), "output_dir": str(tmp_path / "out"),
                                     **FAST, **kw})


def quiet(lines):
    return lambda line: lines.append(line)


@pytest.mark.slow
def test_latency_target_met_by_quantization_alone_stops_without_training(tmp_path, tiny_bert_dir,
                                                                         use_fixture_mirror, one_thread):
    lines = []
    summary = search(config(tmp_path, tiny_bert_dir, max_drop=100, max_latency_ms=10_000), echo=quiet(lines))
    out = tmp_path / "out"
    assert summary["meets_target"] and summary["chosen"] == "torch-dynamic"
    assert summary["candidates_tried"] == 1  # the first quantization backend met it: nothing else ran
    assert not (out / "work").exists()  # the model had a head: no fine-tune
    assert not any("[prune]" in l or "[train]" in l for l in lines)
    record = json.loads((out / "candidates" / "torch-dynamic.eval.json").read_text())
    assert record["schema"].startswith("hfcompress.eval/") and record["search"]["met"] and record["search"]["chosen"]
    assert record["search"]["constraints"]["max_latency_ms"]["met"] and "full_metric" in record["search"]
    assert {"teacher-pytorch-fp32.eval.json", "teacher-onnx-fp32.eval.json"} <= {p.name for p in
                                                                                 (out / "candidates").iterdir()}
    # the chosen model is OUT/ itself, loadable; the report marks it and explains why
    from hfcompress.tasks import get_task

    loaded = hfcompress.load(out, task=get_task("sst2"))
    assert loaded.record.stages[-1].method == "quantize"
    report = (out / "report" / "report.md").read_text()
    assert "torch-dynamic (chosen)" in report and "binding constraint" in report
    assert (out / "report" / "sst2_latency.png").is_file() and (out / "report" / "sst2_size.png").is_file()
    assert any("baseline = teacher-" in l for l in lines)


@pytest.mark.slow
def test_unmeetable_target_keeps_the_closest_with_a_clear_message(tmp_path, tiny_bert_dir, use_fixture_mirror,
                                                                  one_thread, capsys):
    rc = main(["compress", "--task", "sst2", "--model", str(tiny_bert_dir), "--output-dir", str(tmp_path / "out"),
               "--max-drop", "100", "--target-speedup", "1000", "--methods", "quantize", "--batch-size", "4",
               "--estimate-samples", "8", "--timing-rounds", "3"])
    text = capsys.readouterr().out
    assert rc == 1
    assert "No candidate met every constraint" in text and "target_speedup: x" in text and "short of x1000" in text
    assert "does NOT meet the target" in text
    state = json.loads((tmp_path / "out" / "search.json").read_text())
    assert state["status"] == "not met" and state["chosen"] in ("torch-dynamic", "onnx-dynamic")
    chosen = json.loads((tmp_path / "out" / "candidates" / f"{state['chosen']}.eval.json").read_text())
    assert chosen["search"]["meets_target"] is False and chosen["search"]["chosen"] is True
    # pinned to quantize: structural and training candidates are skipped, said so in the log
    log = (tmp_path / "out" / "search.log").read_text()
    assert "skipped: prune:heads is not among methods quantize" in log and "skipped: distill is not among" in log
    assert "NOT meeting the target" in (tmp_path / "out" / "report" / "report.md").read_text()


class Interrupt(Exception):
    pass


@pytest.mark.slow
def test_interrupted_run_resumes_without_re_measuring(tmp_path, tiny_bert_dir, use_fixture_mirror, one_thread,
                                                      monkeypatch):
    cfg = config(tmp_path, tiny_bert_dir, max_drop=100, target_speedup=1000, methods=["quantize"])
    measured = []
    real_estimate = search_run.Search._estimate

    def estimate(self, loaded):
        measured.append(loaded.path.name)
        if len(measured) == 4:  # teacher (pytorch, onnx), torch-dynamic, then onnx-dynamic: interrupted
            raise Interrupt
        return real_estimate(self, loaded)

    monkeypatch.setattr(search_run.Search, "_estimate", estimate)
    with pytest.raises(Interrupt):
        search(cfg, echo=quiet([]))
    assert (tmp_path / "out" / "candidates" / "torch-dynamic.eval.json").is_file()
    assert not (tmp_path / "out" / "candidates" / "onnx-dynamic.eval.json").exists()

    measured.clear()
    lines = []
    summary = search(cfg, echo=quiet(lines))  # the same command again
    assert measured == ["onnx-dynamic"]  # only the candidate the interrupted run did not finish
    assert any("baseline" in l and "reused" in l for l in lines)
    assert any(l.split("] ")[1].startswith("torch-dynamic [quantize]: measured in an earlier run") for l in lines)
    assert summary["candidates_tried"] == 2

    # other settings in the same folder: refused rather than mixed
    with pytest.raises(hfcompress.errors.HfCompressError, match="other settings.*batch_size"):
        search(config(tmp_path, tiny_bert_dir, max_drop=100, target_speedup=1000, methods=["quantize"],
                      batch_size=8), echo=quiet([]))


def test_refuses_a_foreign_non_empty_output_folder(tmp_path, tiny_bert_dir, use_fixture_mirror):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    with pytest.raises(hfcompress.errors.HfCompressError, match="not empty"):
        search(config(tmp_path, tiny_bert_dir, max_drop=1, max_size_mb=1), echo=quiet([]))
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"


@pytest.mark.slow
def test_structural_tier_when_quantization_cannot_meet_size(tmp_path, tiny_bert_dir, use_fixture_mirror, one_thread):
    """A size target below every quantized model: pruning candidates follow, each with the best backend,
    and larger amounts of a method that already lost too much are skipped."""
    lines = []
    summary = search(config(tmp_path, tiny_bert_dir, max_drop=0.0, max_size_mb=0.001, never=["distill", "ffn"]),
                     echo=quiet(lines))
    assert not summary["meets_target"]
    assert any("[prune]" in l for l in lines) and any("structural pruning next" in l for l in lines)
    assert any("[train]" in l for l in lines)  # the cheap tiers could not meet it: training-heavy ones next


@pytest.mark.slow
def test_image_task(tmp_path, use_fixture_mirror, one_thread):
    from tests.helpers import tiny_resnet

    folder = tmp_path / "resnet"
    tiny_resnet().save_pretrained(folder)
    from transformers import AutoImageProcessor  # noqa: F401
    from hfcompress.tasks import get_task

    get_task("cifar10").load_preprocessor(str(folder)).save_pretrained(folder)
    summary = search(CompressConfig.from_dict({"task": "cifar10", "model": str(folder),
                                               "output_dir": str(tmp_path / "out"), "max_drop": 100,
                                               "max_size_mb": 100, **FAST}), echo=quiet([]))
    assert summary["meets_target"] and summary["chosen"] in ("torch-static", "onnx-static")


@pytest.mark.slow
def test_own_data(tmp_path, tiny_bert_dir, one_thread):
    """A task given by its data (a folder of CSV files), as --dataset describes it."""
    import csv

    from tests.helpers import SENTENCES

    data = tmp_path / "data"
    data.mkdir()
    for split in ("train", "validation"):
        with open(data / f"{split}.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["text", "label"])
            for i in range(16):
                w.writerow([SENTENCES[i % len(SENTENCES)], ["neg", "pos"][i % 2]])
    summary = search(CompressConfig.from_dict({"task": {"dataset": str(data)}, "model": str(tiny_bert_dir),
                                               "output_dir": str(tmp_path / "out"), "max_drop": 100,
                                               "max_size_mb": 100, **FAST}), echo=quiet([]))
    assert summary["meets_target"] and summary["chosen"] == "torch-dynamic"
    assert (tmp_path / "out" / "report" / "report.md").is_file()


@pytest.mark.slow
def test_model_without_head_is_fine_tuned_first(tmp_path, use_fixture_mirror, one_thread):
    """The README's path: a base encoder (all-MiniLM-L6-v2 has no classification head) gets a short fine-tune."""
    from transformers import BertModel

    from tests.helpers import make_tokenizer, tiny_bert

    folder = tmp_path / "encoder"
    tok = make_tokenizer(tmp_path / "tok")
    BertModel(tiny_bert(vocab_size=len(tok)).config).save_pretrained(folder)
    tok.save_pretrained(folder)
    lines = []
    summary = search(config(tmp_path, folder, max_drop=100, max_latency_ms=10_000,
                            finetune={"epochs": 1, "max_train_samples": 16, "batch_size": 8}), echo=quiet(lines))
    assert (tmp_path / "out" / "work" / "teacher" / "config.json").is_file()
    assert any("no classification head" in l for l in lines) and summary["meets_target"]


def _stub_search(tmp_path, tiny_bert_dir, **kw):
    """A Search that has measured nothing (only its sizing of training candidates is exercised)."""
    s = search_run.Search(config(tmp_path, tiny_bert_dir, max_drop=1, target_speedup=2, **kw), echo=quiet([]))
    s._train_size = 10_000
    return s


def test_training_candidates_are_sized_to_the_time_left(tmp_path, tiny_bert_dir, use_fixture_mirror):
    from hfcompress.search.candidates import train_samples_of, training_candidates

    s = _stub_search(tmp_path, tiny_bert_dir, time_budget="10m", finetune={"epochs": 2})
    cand = training_candidates("text", {"num_hidden_layers": 4}, "torch-dynamic")[0]
    # no training speed measured yet: the fixed budget (finetune.max_train_samples)
    assert train_samples_of(s.size_training(cand)) == 2000
    s.train_rate = (20.0, "a test")  # examples per second
    s.budget_left = lambda: 330.0  # 330 s left, one evaluation ~30 s: half of 300 s at 20/s over 2 epochs
    assert train_samples_of(s.size_training(cand)) == 1500
    assert any("sized to 1500 of 10000" in step["decision"] for step in s.steps)
    s.budget_left = lambda: 10_000.0  # more time than the whole split needs: all of it (no limit)
    assert train_samples_of(s.size_training(cand)) is None
    s.budget_left = lambda: 40.0  # 100 examples would fit: not worth it
    assert s.size_training(cand) is None and "not worth" in s.steps[-1]["decision"]


def test_explicit_train_samples_are_kept_or_skipped(tmp_path, tiny_bert_dir, use_fixture_mirror):
    from hfcompress.search.candidates import train_samples_of, training_candidates

    s = _stub_search(tmp_path, tiny_bert_dir, time_budget="10m", train_samples=600)
    cand = training_candidates("text", {"num_hidden_layers": 4}, None)[1]  # a recovery fine-tune
    s.train_rate = (20.0, "a test")
    assert train_samples_of(s.size_training(cand)) == 600
    assert cand.stages[0]["prune"]["finetune_epochs"] == 1.0
    s.budget_left = lambda: 60.0  # 600 examples need 30 s; half of (60 - 30) s is 15 s
    assert s.size_training(cand) is None and "would not finish" in s.steps[-1]["decision"]
    s.budget_left = lambda: None  # no time budget: always the fixed number
    assert train_samples_of(s.size_training(cand)) == 600

"""The command line: user errors are one line with a non-zero exit and no traceback."""

import json
import os
import subprocess
import sys

import pytest

from hfcompress.cli.main import EXIT_USER_ERROR, main


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "hfcompress.cli.main", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def assert_user_error(proc, *fragments):
    assert proc.returncode == EXIT_USER_ERROR, proc.stderr
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("hfcompress ") and ": error: " in last
    for fragment in fragments:
        assert fragment in last, last


def test_unknown_task_in_a_real_process(tiny_bert_dir):
    assert_user_error(run_cli("evaluate", "--task", "sst3", "--model", str(tiny_bert_dir)), "unknown task 'sst3'")


@pytest.mark.parametrize("args, fragment", [
    (["evaluate", "--task", "sst2", "--model", "/no/such/model"], "model folder not found: /no/such/model"),
    (["evaluate", "--task", "mnli", "--model", "{tiny}"], "needs 3"),
    (["evaluate", "--task", "sst2", "--model", "{tiny}", "--split", "test"], "has no split 'test'"),
    (["evaluate", "--task", "sst2", "--model", "{tiny}", "--limit", "0"], "limit: must be > 0"),
    (["train", "--task", "sst2", "--model", "{tiny}"], "missing required key 'output_dir'"),
    (["train", "--recipe", "{bad_recipe}"], "unknown key 'epochz'"),
    (["train", "--recipe", "{eval_only_recipe}"], "has no 'train' section"),
])
def test_user_errors(args, fragment, tiny_bert_dir, tmp_path, capsys, use_fixture_mirror):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: {task: sst2, model: m, output_dir: o, epochz: 1}\n")
    eval_only = tmp_path / "eval.yaml"
    eval_only.write_text("evaluate: {task: sst2, model: m}\n")
    args = [a.format(tiny=tiny_bert_dir, bad_recipe=bad, eval_only_recipe=eval_only) for a in args]
    assert main(args) == EXIT_USER_ERROR
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and fragment in err, err


def test_unreadable_data_file_is_named(tmp_path, tiny_bert_dir, capsys):
    folder = tmp_path / "nyu-mll/glue/sst2"
    folder.mkdir(parents=True)
    (folder / "validation-00000-of-00001.parquet").write_bytes(b"garbage")
    code = main(["evaluate", "--task", "sst2", "--model", str(tiny_bert_dir), "--datasets-mirror", str(tmp_path)])
    assert code == EXIT_USER_ERROR
    assert "validation-00000-of-00001.parquet" in capsys.readouterr().err


def test_evaluate_prints_table_and_writes_json(tiny_bert_dir, tmp_path, capsys, use_fixture_mirror):
    out = tmp_path / "r" / "eval.json"
    assert main(["evaluate", "--task", "sst2", "--model", str(tiny_bert_dir), "--limit", "8", "--batch-size", "4",
                 "--threads", "1", "--repeats", "3", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "accuracy" in table and "throughput" in table and "threads         1" in table
    record = json.loads(out.read_text())
    assert record["schema"] == "hfcompress.eval/1" and record["n_examples"] == 8
    assert 0 <= record["metrics"]["accuracy"] <= 1
    eff = record["efficiency"]
    assert eff["latency_batch_size"] == 4 and eff["latency_ms_median"] > 0 and eff["throughput_examples_per_s"] > 0
    assert eff["size_on_disk_bytes"] > 0 and eff["parameters"] > eff["nonzero_parameters"] * 0.9
    assert record["environment"]["threads"] == 1 and record["environment"]["transformers"]


def test_mnli_reports_matched_and_mismatched(tmp_path, capsys, use_fixture_mirror):
    from tests import helpers

    model = helpers.save_tiny_bert(tmp_path / "m", num_labels=3)
    out = tmp_path / "e.json"
    assert main(["evaluate", "--task", "mnli", "--model", str(model), "--repeats", "2", "--json", str(out)]) == 0
    metrics = json.loads(out.read_text())["metrics"]
    assert set(metrics) == {"accuracy", "accuracy_mismatched"}


def test_train_then_evaluate_through_the_cli(tiny_bert_dir, tmp_path, capsys, use_fixture_mirror):
    out = tmp_path / "teacher"
    assert main(["train", "--task", "sst2", "--model", str(tiny_bert_dir), "--output-dir", str(out), "--epochs", "1",
                 "--batch-size", "8", "--max-train-samples", "16", "--max-eval-samples", "8"]) == 0
    assert main(["evaluate", "--task", "sst2", "--model", str(out), "--limit", "8", "--repeats", "2"]) == 0
    assert "[pytorch]" in capsys.readouterr().out

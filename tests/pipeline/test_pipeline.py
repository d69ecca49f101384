"""A two-stage pipeline on tiny models runs end to end, records both stages, and resumes."""

import pytest

from hfcompress.config import load_recipe
from hfcompress.errors import ConfigError
from hfcompress.hub import load
from hfcompress.pipeline import PipelineConfig, run_pipeline
from hfcompress.training import train

STAGE = {"epochs": 1, "batch_size": 8, "max_train_samples": 16, "max_eval_samples": 8, "save_steps": 1000,
         "learning_rate": 1e-3}


def config(tmp_path, model, stages=None, **kw):
    return PipelineConfig(task="sst2", model=str(model), output_dir=str(tmp_path / "pipe"),
                          stages=stages or [{"train": STAGE}, {"train": {**STAGE, "learning_rate": 5e-4}}],
                          evaluate={"limit": 8, "repeats": 2, "batch_size": 8}, **kw)


class Crash(Exception):
    pass


def test_two_stages_run_record_and_resume(tmp_path, tiny_bert_dir, use_fixture_mirror):
    cfg = config(tmp_path, tiny_bert_dir)
    calls = []

    def crash_on_second(c):
        if calls:
            raise Crash("interrupted in stage 2")
        calls.append(c.output_dir)
        return train(c)

    with pytest.raises(Crash):
        run_pipeline(cfg, runners={"train": crash_on_second})
    assert (tmp_path / "pipe" / "01-train.eval.json").is_file()
    assert not (tmp_path / "pipe" / "02-train.eval.json").exists()

    calls.clear()
    records = run_pipeline(cfg, runners={"train": lambda c: calls.append(c.output_dir) or train(c)})
    assert calls == [str(tmp_path / "pipe" / "02-train")], "stage 1 is not redone"
    assert [r["label"] for r in records] == ["01-train", "02-train"]
    final = load(tmp_path / "pipe" / "02-train")
    assert final.record.methods == ["finetune", "finetune"]  # the whole history in the last folder
    assert final.record.stages[1].params["learning_rate"] == 5e-4
    assert final.record.stages[1].params["model"] == str(tmp_path / "pipe" / "01-train")


@pytest.mark.parametrize("stages, message", [
    ([], "needs at least one stage"),
    ([{"squash": {}}], "unknown stage 'squash'"),
    ([{"train": {"model": "x"}}], "stages\\[0\\].train.model: set by the pipeline"),
    ([{"train": {"epochs": -1}}], "train.epochs: must be > 0"),
    ([{"train": {}, "prune": {}}], "one key"),
])
def test_bad_pipelines_fail_before_running(tmp_path, stages, message):
    with pytest.raises(ConfigError, match=message):
        PipelineConfig.from_dict({"task": "sst2", "model": "m", "output_dir": str(tmp_path), "stages": stages})


def test_pipeline_recipe_loads(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("pipeline:\n  task: sst2\n  model: m\n  output_dir: o\n  evaluate: {limit: 10}\n"
                    "  stages:\n    - train: {epochs: 1}\n")
    recipe = load_recipe(path)
    assert recipe.pipeline.plan()[0].config.model == "m" and recipe.pipeline.evaluate == {"limit": 10}
    path.write_text("pipeline:\n  task: sst2\n  model: m\n  output_dir: o\n  evaluate: {limt: 10}\n"
                    "  stages:\n    - train: {epochs: 1}\n")
    with pytest.raises(ConfigError, match="unknown key 'limt'"):
        load_recipe(path)

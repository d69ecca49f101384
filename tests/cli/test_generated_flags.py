"""CLI flags are generated from the config fields: nested configs, lists, mappings and task flags."""

import pytest

from hfcompress.cli.common import config_from
from hfcompress.cli.main import build_parser
from hfcompress.errors import ConfigError


def _parse(argv):
    return build_parser().parse_args(argv)


def test_nested_student_flags_lists_and_yaml_fields(tmp_path):
    args = _parse(["distill", "--task", "sst2", "--teacher", "t", "--output-dir", str(tmp_path / "o"),
                   "--student-kind", "tinybert", "--student-num-layers", "2", "--losses", "[{name: logits}, {name: ce}]",
                   "--lr", "3e-4", "--no-eval-at-end", "--alpha", "0.7"])
    from hfcompress.distill.config import DistillConfig

    cfg = config_from(args, "distill", DistillConfig)
    assert cfg.student.kind == "tinybert" and cfg.student.num_layers == 2
    assert [l.name for l in cfg.losses] == ["logits", "ce"] and cfg.learning_rate == 3e-4
    assert cfg.eval_at_end is False and {l.name: l.weight for l in cfg.losses}["logits"] == 0.7


def test_list_and_mapping_flags_of_prune():
    from hfcompress.prune.config import PruneConfig

    args = _parse(["prune", "--task", "sst2", "--model", "m", "--output-dir", "o", "--method", "heads",
                   "--layers", "{0: [1, 2]}", "--schedule-end", "0.5"])
    cfg = config_from(args, "prune", PruneConfig)
    assert cfg.layers == {0: [1, 2]} and cfg.schedule_end == 0.5


def test_dataset_flags_become_the_task_description():
    from hfcompress.config import TrainConfig

    args = _parse(["train", "--model", "m", "--output-dir", "o", "--dataset", "data/t.csv",
                   "--text-columns", "subject,body", "--label-column", "queue", "--validation-split", "0.1"])
    cfg = config_from(args, "train", TrainConfig)
    assert cfg.task.dataset == "data/t.csv" and cfg.task.text_columns == ["subject", "body"]
    assert cfg.task.validation_split == 0.1


def test_a_bad_value_names_the_flag_or_field(capsys):
    with pytest.raises(SystemExit):
        _parse(["prune", "--amount", "lots"])
    assert "--amount" in capsys.readouterr().err
    args = _parse(["prune", "--task", "sst2", "--model", "m", "--output-dir", "o", "--method", "heads", "--amount", "2"])
    from hfcompress.prune.config import PruneConfig

    with pytest.raises(ConfigError, match="amount"):
        config_from(args, "prune", PruneConfig)

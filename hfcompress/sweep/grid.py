"""Expanding a recipe whose numeric fields hold lists into a grid of ordinary, validated configs.

``learning_rate: [1e-4, 3e-4]`` and ``epochs: [1, 2]`` in one section give four points. Every
point is built with the section's typed config (so its validation runs) before anything trains:
an empty list, a non-numeric value or a key the config does not have fails at once, naming the key.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import typing
from typing import Any, Union, get_args, get_origin

import yaml

from hfcompress.config.base import coerce_number
from hfcompress.config.recipe import META_KEYS, SECTIONS
from hfcompress.errors import ConfigError
from hfcompress.methods.registry import FAMILIES, config_class

# Sections whose runs a sweep can drive: the method families (evaluate is applied to every point).
SWEEPABLE = tuple(FAMILIES)


def _is_numeric(tp: Any) -> bool:
    if tp in (int, float):
        return True
    if get_origin(tp) is Union:
        return any(_is_numeric(a) for a in get_args(tp) if a is not type(None))
    return False


def _is_list(tp: Any) -> bool:
    """A list-valued field (``list[int]``, ``Optional[list[str]]``): its list is a value, not a sweep."""
    if get_origin(tp) in (list, tuple):
        return True
    return get_origin(tp) is Union and any(_is_list(a) for a in get_args(tp))


@dataclasses.dataclass
class Point:
    """One grid point: the swept values and the validated config of the swept section."""

    values: dict[str, Any]
    config: Any

    @property
    def name(self) -> str:
        text = "_".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.values.items())
        return re.sub(r"[^A-Za-z0-9_.=+-]", "-", text) or "default"


def expand(data: dict, where: str = "recipe") -> tuple[str, list[Point], dict]:
    """(swept section name, points, the recipe's other sections as raw dicts)."""
    unknown = sorted(k for k in data if k not in (*META_KEYS, *SECTIONS))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}")
    sections = [s for s in SWEEPABLE if s in data]
    if len(sections) != 1:
        raise ConfigError(f"{where}: a sweep needs exactly one of the sections {', '.join(SWEEPABLE)}; "
                          f"found {sections or 'none'}")
    name = sections[0]
    section = data[name]
    if not isinstance(section, dict):
        raise ConfigError(f"{where}.{name}: expected a mapping")
    cls = config_class(name)
    hints = typing.get_type_hints(cls)
    axes: dict[str, list] = {}
    for key, value in section.items():
        if not isinstance(value, list):
            continue
        if key not in hints:
            raise ConfigError(f"{where}.{name}: unknown key {key!r} (cannot sweep it)")
        if _is_list(hints[key]):
            continue  # a list-valued field (prune.drop, quantize.auto_candidates), not a sweep
        if not _is_numeric(hints[key]) or key not in FAMILIES[name].sweepable:
            raise ConfigError(f"{where}.{name}.{key}: cannot be swept; sweepable fields of {name}: "
                              f"{', '.join(FAMILIES[name].sweepable)}")
        if not value:
            raise ConfigError(f"{where}.{name}.{key}: empty sweep list")
        value = [coerce_number(v, f"{where}.{name}.{key}") for v in value]  # YAML reads 1e-4 as a string
        axes[key] = value
    points = []
    for combo in itertools.product(*axes.values()) if axes else [()]:
        values = dict(zip(axes, combo))
        cfg = cls.from_dict({**section, **values}, where=f"{where}.{name}[{values}]")
        points.append(Point(values=values, config=cfg))
    others = {k: v for k, v in data.items() if k != name and k not in META_KEYS}
    return name, points, others


def load_sweep(path) -> tuple[str, list[Point], dict]:
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"recipe file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections")
    return expand(data, where=f"recipe {path.name}")

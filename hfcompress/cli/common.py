"""Helpers every CLI command uses: flags generated from the typed configs, and configs from recipe + flags.

In the spirit of ``transformers.HfArgumentParser``: every field of a method's config dataclass becomes
a ``--field-name`` flag, its help text taken from the field's comment in the config's source, so the CLI
can set every field and cannot drift from the configs. Types map to argparse as: ``bool`` ->
``--x/--no-x``; ``Literal`` -> choices; ``int``/``float``/``str``; ``list[int|str|float]`` ->
comma-separated; mappings, nested configs and lists of configs -> YAML/JSON text; a nested config
(``distill.student``) also gets one flag per field (``--student-kind``).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import inspect
import os
import re
import types
import typing
from typing import Any, Literal, Optional, Union, get_args, get_origin

from hfcompress.errors import ConfigError, HfCompressError

# extra spellings kept for the flags users know
ALIASES = {"learning_rate": ["--lr"]}
_FIELD_LINE = re.compile(r"^\s{4}(\w+)\s*:\s*[^=#]+(?:=[^#]*)?(?:#\s*(.*))?$")


@functools.lru_cache(maxsize=None)
def field_help(cls) -> dict[str, str]:
    """Help text per field from the config's source: the field's trailing comment, else the comment
    line(s) just above it (for ``cls`` and its Config base classes)."""
    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass) or klass.__module__ == "hfcompress.config.base":
            continue
        try:
            lines = inspect.getsource(klass).splitlines()
        except (OSError, TypeError):
            continue
        above: list[str] = []
        for line in lines:
            stripped = line.strip()
            if stripped.startswith("#"):
                text = stripped.lstrip("#").strip()
                if text and not set(text) <= set("-= "):
                    above.append(text)
                continue
            match = _FIELD_LINE.match(line)
            if match and not stripped.startswith(("def ", "return", "raise")):
                name, trailing = match.group(1), match.group(2)
                text = trailing or " ".join(above)
                if text:
                    out[name] = text.replace("%", "%%")
            above = []
    return out


def _unwrap(tp: Any) -> Any:
    """Optional[X] -> X."""
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else tp
    return tp


def _is_config(tp: Any) -> bool:
    from hfcompress.config.base import Config

    return isinstance(tp, type) and dataclasses.is_dataclass(tp) and issubclass(tp, Config)


def _yaml(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise argparse.ArgumentTypeError(f"not valid YAML/JSON ({str(exc).splitlines()[0]})") from None


def _comma_list(item_type):
    def parse(text: str) -> list:
        try:
            return [item_type(part.strip()) for part in text.split(",") if part.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of {item_type.__name__}, "
                                             f"got {text!r}") from None

    parse.__name__ = f"list of {item_type.__name__}"
    return parse


def _number(kind):
    def parse(text: str):
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None

    parse.__name__ = kind.__name__
    return parse


def _add_flag(group, name: str, tp: Any, help_text: str, dest: str, default_text: str) -> None:
    flags = [f"--{name.replace('_', '-')}"]
    if "." not in dest:
        flags += ALIASES.get(name, [])
    tp = _unwrap(tp)
    kwargs: dict[str, Any] = {"dest": dest, "default": None, "help": f"{help_text}{default_text}".strip() or None,
                              "metavar": name.upper()}
    origin = get_origin(tp)
    if tp is bool:
        kwargs.pop("metavar")
        kwargs["action"] = argparse.BooleanOptionalAction
    elif origin is Literal:
        choices = list(get_args(tp))
        kwargs.pop("metavar")
        kwargs.update(choices=choices, type=type(choices[0]) if choices and not isinstance(choices[0], str) else str)
    elif tp in (int, float):
        kwargs["type"] = _number(tp)
    elif tp is str:
        kwargs["type"] = str
    elif origin in (list, tuple) and get_args(tp) and get_args(tp)[0] in (int, float, str):
        kwargs.update(type=_comma_list(get_args(tp)[0]), metavar="A,B,...")
    else:  # mappings, nested configs, lists of configs: YAML (or JSON) text
        kwargs.update(type=_yaml, metavar="YAML")
    group.add_argument(*flags, **kwargs)


def add_config_flags(parser: argparse.ArgumentParser, cls, exclude: tuple[str, ...] = (), title: Optional[str] = None
                     ) -> list[str]:
    """Add one flag per field of config class ``cls`` (and per field of its nested configs); return the dests."""
    hints = typing.get_type_hints(cls)
    helps = field_help(cls)
    group = parser.add_argument_group(title or f"{cls.__name__} fields (override the recipe)")
    dests: list[str] = []
    for f in dataclasses.fields(cls):
        if not f.init or f.name in exclude:
            continue
        if f.name == "task":  # a built-in name, or the data described by the task flags (TaskSpec)
            from hfcompress.tasks.spec import add_task_flags

            group.add_argument("--task", dest="task", default=None, metavar="TASK",
                               help="a built-in task (GLUE names, rotten_tomatoes, cifar10); or describe your data "
                                    "with --dataset and the flags below")
            add_task_flags(group)
            dests.append("task")
            continue
        default = "" if f.default is dataclasses.MISSING or f.default is None else f" (default: {f.default})"
        _add_flag(group, f.name, hints[f.name], helps.get(f.name, ""), f.name, default.replace("%", "%%"))
        dests.append(f.name)
        inner = _unwrap(hints[f.name])
        if _is_config(inner):  # flat flags for a nested config: --student-kind ...
            inner_hints, inner_help = typing.get_type_hints(inner), field_help(inner)
            for g in dataclasses.fields(inner):
                if g.init:
                    gdefault = "" if g.default in (dataclasses.MISSING, None) else f" (default: {g.default})"
                    _add_flag(group, f"{f.name}_{g.name}", inner_hints[g.name], inner_help.get(g.name, ""),
                              f"{f.name}.{g.name}", gdefault.replace("%", "%%"))
                    dests.append(f"{f.name}.{g.name}")
    parser.set_defaults(_config_dests=dests)
    return dests


def add_run_flags(parser: argparse.ArgumentParser) -> None:
    """The run contract's options (see hfcompress.methods.contract) and the recipe."""
    parser.add_argument("--recipe", help="YAML recipe; flags given here override its values")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint in OUTPUT_DIR")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty OUTPUT_DIR as a whole (nothing of "
                        "the old model survives); train and distill also discard their checkpoints")


def config_from(args: argparse.Namespace, section: str, cls, fields=None):
    """``cls`` built from the recipe's ``section`` (if ``--recipe``) overlaid with the flags given.

    The config's own validation then reports any bad value with the name of its field.
    """
    data: dict[str, Any] = {}
    recipe_path = getattr(args, "recipe", None)
    if recipe_path:
        from hfcompress.config import load_recipe

        part = getattr(load_recipe(recipe_path), section)
        if part is None:
            raise HfCompressError(f"recipe {recipe_path} has no '{section}' section")
        data = part.to_dict()
    for dest in fields if fields is not None else getattr(args, "_config_dests", []):
        if dest == "task":
            from hfcompress.tasks.spec import task_from_args

            value = task_from_args(args)
        else:
            value = getattr(args, dest, None)
        if value is None:
            continue
        outer, _, inner = dest.partition(".")
        if inner:
            nested = data.get(outer)
            data[outer] = {**(nested if isinstance(nested, dict) else {}), inner: value}
        else:
            data[outer] = value
    where = f"recipe {os.path.basename(recipe_path)}: {section}" if recipe_path else f"{section} options"
    try:
        return cls.from_dict(data, where=where)
    except TypeError as exc:  # a missing required value reaches a constructor as a TypeError
        raise ConfigError(f"{where}: {exc}") from None

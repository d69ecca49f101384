"""Typed configs: dataclasses that validate themselves and round-trip through JSON/YAML.

Every config in hfcompress is a dataclass deriving from :class:`Config`. ``from_dict`` checks
each key against the dataclass fields and each value against the field's type annotation, so a
recipe with a typo fails before anything runs, with the dotted path of the bad field
(``recipe.train.epochs: expected a number, got 'three'``). ``to_dict`` gives plain JSON types,
which is what gets stored next to a model.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from hfcompress.errors import ConfigError

C = TypeVar("C", bound="Config")


def _type_name(tp: Any) -> str:
    if tp is float:
        return "a number"
    if tp is int:
        return "an integer"
    if tp is str:
        return "a string"
    if tp is bool:
        return "true/false"
    return getattr(tp, "__name__", str(tp))


def _number(value: Any, where: str) -> float:
    """A finite float from a number or a numeric string (YAML reads ``1e-4``, without a dot, as a string)."""
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    else:
        try:
            number = float(value)
        except OverflowError:  # an int too large for a float
            raise ConfigError(f"{where}: expected a finite number, got {value!r}") from None
    if not math.isfinite(number):
        raise ConfigError(f"{where}: expected a finite number, got {value!r}")
    return number


def coerce_number(value: Any, where: str) -> int | float:
    """A finite int or float from a number or a numeric string (``"1e-4"``, ``"3"``), else ConfigError
    naming ``where``. For values whose field type is only known later (sweep grid axes)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    return _number(value, where)


def _integer(value: Any, where: str) -> int:
    """An int from an int, an integral float (``3.0``, ``1e3``) or a numeric string (``"3"``, ``"1e3"``)."""
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
    if isinstance(value, (str, float)):
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
        if not math.isfinite(number):
            raise ConfigError(f"{where}: expected a finite integer, got {value!r}")
        if number.is_integer():
            return int(number)
    raise ConfigError(f"{where}: expected an integer, got {value!r}")


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against annotation ``tp``; return it (nested configs are built)."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin is Union or origin is types.UnionType:
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        configs = [o for o in options if isinstance(o, type) and dataclasses.is_dataclass(o) and issubclass(o, Config)]
        if isinstance(value, dict) and len(configs) == 1:  # a mapping can only be the config: name its bad field
            return _coerce(value, configs[0], where)
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{where}: {value!r} does not fit {tp}")
    if origin is Literal:
        allowed = get_args(tp)
        if value not in allowed:
            raise ConfigError(f"{where}: expected one of {list(allowed)}, got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (item_tp, *_) = get_args(tp) or (Any,)
        return [_coerce(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        key_tp, val_tp = get_args(tp) or (Any, Any)
        for k in value:  # keys stay strict: a quoted YAML key is a different key
            if key_tp is int and isinstance(k, str):
                raise ConfigError(f"{where}.<key>: expected an integer, got {k!r}")
        return {_coerce(k, key_tp, f"{where}.<key>"): _coerce(v, val_tp, f"{where}.{k}") for k, v in value.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp) and issubclass(tp, Config):
        if isinstance(value, tp):
            return value
        return tp.from_dict(value, where=where)
    if tp is float:
        return _number(value, where)
    if tp is int:
        return _integer(value, where)
    if tp is str and isinstance(value, os.PathLike):
        return os.fspath(value)  # a pathlib.Path where a folder or file is asked for
    if tp in (str, bool):
        if not isinstance(value, tp):
            raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")
        return value
    return value


@dataclasses.dataclass
class Config:
    """Base class of every typed config. Subclasses may override :meth:`validate`."""

    def __post_init__(self) -> None:
        # a pathlib.Path given to the constructor is stored as the str that records and config.json hold
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, os.PathLike):
                setattr(self, f.name, os.fspath(value))

    @classmethod
    def from_dict(cls: type[C], data: Any, where: str | None = None) -> C:
        where = where or cls.__name__
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: expected a mapping, got {data!r}")
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ConfigError(
                f"{where}: unknown key {unknown[0]!r} (known keys: {', '.join(sorted(fields))})"
            )
        kwargs = {}
        for name, f in fields.items():
            if name in data:
                kwargs[name] = _coerce(data[name], hints[name], f"{where}.{name}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{where}: missing required key {name!r}")
        obj = cls(**kwargs)
        obj.validate(where)
        return obj

    def validate(self, where: str) -> None:  # noqa: D401 - hook
        """Check cross-field constraints; raise ConfigError naming the field."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True)
        if path is not None:
            Path(path).write_text(text + "\n")
        return text

    @classmethod
    def from_json(cls: type[C], path: str | Path) -> C:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read config ({exc})") from None
        return cls.from_dict(data, where=str(path))

    def replace(self: C, **changes: Any) -> C:
        """A copy with ``changes`` applied and validated (None values are ignored)."""
        data = self.to_dict()
        data.update({k: v for k, v in changes.items() if v is not None})
        return type(self).from_dict(data, where=type(self).__name__)

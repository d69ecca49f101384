"""Path checks that configs run in ``validate`` (no torch, no filesystem writes)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Optional

from hfcompress.errors import ConfigError


def _resolved(path: str | os.PathLike) -> Path:
    return Path(os.path.abspath(Path(path).expanduser())).resolve()


def is_within(inner: Path, outer: Path) -> bool:
    """Whether ``inner`` is ``outer`` or lies inside it (both resolved)."""
    return inner == outer or outer in inner.parents


def refuse_output_over_input(output_dir: str | os.PathLike, inputs: Iterable[Optional[str | os.PathLike]],
                             where: str = "output_dir") -> None:
    """ConfigError if ``output_dir`` is or contains one of the local ``inputs``.

    Publishing the output replaces that folder as a whole, so the input model would be lost.
    Inputs that are not local paths (Hub ids, ``scratch:...``) are ignored.
    """
    out = _resolved(output_dir)
    for item in inputs:
        if not item or str(item).startswith("scratch:"):
            continue
        candidate = Path(str(item)).expanduser()
        if not candidate.exists():
            continue
        source = _resolved(candidate)
        if is_within(source, out):
            how = "is" if out == source else "contains"
            raise ConfigError(f"{where}: {output_dir} {how} the input model folder {item}; writing there would "
                              "destroy the input: choose another output folder")


def refuse_output_file(output_dir: str | os.PathLike, where: str = "output_dir") -> None:
    """ConfigError if ``output_dir`` (or a folder above it) is an existing file: found before any work."""
    path = Path(output_dir).expanduser()
    for parent in [path, *path.parents]:
        if parent.exists():
            if not parent.is_dir():
                what = "is an existing file" if parent == path else f"lies under the existing file {parent}"
                raise ConfigError(f"{where}: {output_dir} {what}; give a folder path")
            return

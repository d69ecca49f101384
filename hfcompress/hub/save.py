"""Saving models atomically as ``save_pretrained`` directories with their compression record."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterator, Optional

from hfcompress.hub.record import CompressionRecord

# A directory is a complete model once this file is in place; it is always written last.
COMPLETE_MARKER = "config.json"


@contextlib.contextmanager
def atomic_directory(target: str | Path) -> Iterator[Path]:
    """Write into a temporary sibling; publish it at ``target`` only if the block succeeds.

    A new target appears in one ``rename``. An existing target (for example a training output
    folder holding checkpoints) has its marker file removed first, the new files moved in, and
    the marker moved in last: an interrupted save never looks like a complete model.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if not target.exists():
        os.replace(tmp, target)
        return
    marker = target / COMPLETE_MARKER
    if marker.exists():
        marker.unlink()
    entries = sorted(tmp.iterdir(), key=lambda p: p.name == COMPLETE_MARKER)
    for entry in entries:
        dest = target / entry.name
        if dest.is_dir() and not dest.is_symlink():
            shutil.rmtree(dest)
        os.replace(entry, dest)
    tmp.rmdir()


def save_compressed(
    model,
    output_dir: str | Path,
    record: CompressionRecord,
    preprocessor=None,
    card: Optional[str] = None,
    *,
    config=None,
    write_weights: Optional[Callable[[Path], None]] = None,
) -> Path:
    """The one save path of every method: weights + ``config.json`` carrying ``record`` + preprocessor +
    model card, published atomically.

    ``write_weights(folder)`` writes the weight files (packed sparse tensors, INT8 tensors, an ONNX
    graph ...); by default ``model.save_pretrained`` writes safetensors. ``config`` is the transformers
    config to store (default ``model.config``).
    """
    output_dir = Path(output_dir)
    config = config if config is not None else model.config
    record.attach(config)
    with atomic_directory(output_dir) as tmp:
        if write_weights is None:
            model.save_pretrained(tmp, safe_serialization=True)
        else:
            write_weights(tmp)
        if write_weights is not None or model is None or config is not model.config:
            config.save_pretrained(tmp)
        if preprocessor is not None:
            preprocessor.save_pretrained(tmp)
        if card is not None:
            (tmp / "README.md").write_text(card)
    return output_dir

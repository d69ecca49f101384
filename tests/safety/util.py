"""Helpers of the safety tests (issue 17): CLI runs that must fail in one line, folder snapshots, payloads."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path
from typing import Sequence

from hfcompress.cli.main import EXIT_USER_ERROR, main


def snapshot(*folders: Path) -> dict[str, str]:
    """Every file under ``folders`` (path -> sha256) plus each file's mode: byte-identical means equal snapshots."""
    out: dict[str, str] = {}
    for folder in folders:
        folder = Path(folder)
        if folder.is_file():
            out[str(folder)] = hashlib.sha256(folder.read_bytes()).hexdigest()
            continue
        if not folder.exists():
            out[str(folder)] = "<missing>"
            continue
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest() + oct(p.stat().st_mode)
            elif p.is_dir():
                out[str(p)] = "<dir>"
    return out


def fails_in_one_line(argv: Sequence[str], capsys, fragment: str = "", command: str | None = None) -> str:
    """Run the CLI; assert exit status 2 and a single ``hfcompress <cmd>: error: ...`` line (no traceback)."""
    capsys.readouterr()
    code = main(list(argv))
    err = capsys.readouterr().err
    lines = [l for l in err.strip().splitlines() if l.strip() and "it/s]" not in l and "examples/s]" not in l
             and not l.startswith(("Writing model shards", "Generating", "tokenizing", "Map", "Failed to load CPU"))]
    assert code == EXIT_USER_ERROR, (code, err[-2000:])
    assert "Traceback" not in err, err[-2000:]
    assert lines, err
    last = lines[-1]
    assert last.startswith(f"hfcompress {command or argv[0]}: error: "), last
    assert "\n" not in last
    assert fragment.lower() in last.lower(), (fragment, last)
    return last


class Payload:
    """Unpickling this creates ``marker``: proof that a pickle was loaded."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def pickle_only_model(folder: Path, source: Path, marker: Path) -> Path:
    """A model folder (config + tokenizer of ``source``) whose only weights are a pickle payload."""
    folder.mkdir(parents=True, exist_ok=True)
    for p in source.iterdir():
        if p.is_file() and not p.name.endswith(".safetensors"):
            (folder / p.name).write_bytes(p.read_bytes())
    with open(folder / "pytorch_model.bin", "wb") as f:
        pickle.dump({"weights": Payload(marker)}, f)
    return folder


def copy_model(source: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for p in source.iterdir():
        if p.is_file():
            (folder / p.name).write_bytes(p.read_bytes())
    return folder


def edit_config(folder: Path, fn) -> None:
    cfg = json.loads((folder / "config.json").read_text())
    fn(cfg)
    (folder / "config.json").write_text(json.dumps(cfg))

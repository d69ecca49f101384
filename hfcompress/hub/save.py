"""Saving models atomically as ``save_pretrained`` directories with their compression record.

Output folders follow one set of rules, for every command:

* :func:`check_output_dir` runs **before any work**: the output must not be (or contain) an input
  model folder, must not be an existing file, and must be empty (or missing) unless the user said
  ``--overwrite``; a folder holding only ``checkpoints/`` of a Trainer run is the run's own folder
  (``--resume`` continues it).
* :func:`atomic_directory` writes into a hidden temporary sibling and publishes it in one step,
  under an exclusive lock (``.<name>.lock``, made with ``os.mkdir``), so two writers never mix
  their files. An existing folder is replaced **as a whole**: the old folder is renamed aside, the
  new one renamed in, the old one deleted; nothing of the previous model survives (only
  ``checkpoints/`` of the Trainer run that just finished is carried over). ``overwrite=False``
  refuses to replace a folder that holds anything else.
* Temporary folders of interrupted saves (``.<name>.partial-<pid>-*``) whose process is gone are
  removed on the next save to the same target. Folders get the normal mode (0777 minus the umask),
  not ``mkdtemp``'s 0700.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

from hfcompress.config.paths import refuse_output_over_input
from hfcompress.errors import HfCompressError
from hfcompress.hub.record import CompressionRecord

# A directory is a complete model once this file is in place; it is always written last.
COMPLETE_MARKER = "config.json"
# Entries of an existing output folder that a save carries over instead of replacing: the
# checkpoints a Trainer run (train, distill, QAT) wrote under <output_dir>/checkpoints before its final save.
KEEP_ON_REPLACE = ("checkpoints",)
LOCK_TIMEOUT_S = 60.0

__all__ = ["COMPLETE_MARKER", "KEEP_ON_REPLACE", "OutputDirError", "atomic_directory", "check_output_dir",
           "clean_stale_partials", "refuse_output_over_input", "save_compressed"]


class OutputDirError(HfCompressError):
    """The output folder cannot be used as asked (it is the input, a file, or holds another model)."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _entries(folder: Path) -> list[Path]:
    """A folder's entries, without the hidden bookkeeping of an earlier save (locks, partials)."""
    return sorted(p for p in folder.iterdir() if not (p.name.startswith(".") and (".partial-" in p.name
                                                                                  or p.name.endswith(".lock"))))


def folder_of(loaded) -> Optional[Path]:
    """The folder an in-memory (loaded) input model came from, if it is one: an output may not overwrite it."""
    path = getattr(loaded, "path", None)
    return path if path is not None and Path(path).is_dir() else None


def check_output_dir(output_dir: str | os.PathLike, inputs: Iterable[Optional[str | os.PathLike]] = (),
                     overwrite: bool = False, resume: bool = False, keep: Iterable[str] = KEEP_ON_REPLACE,
                     flag: str = "--output-dir") -> Path:
    """Refuse, before any work starts, an output folder that a save would have to refuse or would lose data in.

    * ``output_dir`` is (or contains) one of the local ``inputs`` (the model, a teacher ...): always refused;
    * ``output_dir`` (or a parent) is an existing file: refused;
    * ``output_dir`` is a non-empty folder: refused unless ``overwrite`` (it is then replaced as a whole
      when the command publishes its result) or ``resume`` (the run continues in its own folder). A
      folder holding only ``keep`` entries (``checkpoints/``) is the run's own folder and accepted:
      the Trainer-based commands decide about its checkpoints (``--resume`` / ``--overwrite``).
    Stale partial folders of interrupted saves next to it are removed. Returns the path.
    """
    path = Path(output_dir).expanduser()
    try:
        refuse_output_over_input(path, inputs, where=flag)
    except HfCompressError as exc:
        raise OutputDirError(str(exc)) from None
    _check_target(path, where=flag)
    if path.is_dir():
        clean_stale_partials(path)
        held = [p for p in _entries(path) if p.name not in set(keep)]
        if held and not overwrite and not resume:
            names = ", ".join(p.name for p in held[:4]) + (" ..." if len(held) > 4 else "")
            raise OutputDirError(f"{flag}: {path} is not empty (holds {names}); pass --overwrite to replace it "
                                 "as a whole, or choose another folder")
    existing = next((p for p in [path, *path.parents] if p.exists()), None)
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise OutputDirError(f"{flag}: {existing} is not writable")
    return path


def clean_stale_partials(target: str | os.PathLike) -> list[Path]:
    """Remove ``.<name>.partial-<pid>-*`` / ``.<name>.old-<pid>-*`` siblings of ``target`` left by a
    process that is gone (interrupted saves), and a lock whose owner is gone. Returns what was removed."""
    target = Path(target)
    parent = target.parent
    removed: list[Path] = []
    if not parent.is_dir():
        return removed
    for kind in ("partial", "old"):
        for p in parent.glob(f".{target.name}.{kind}-*"):
            pid_text = p.name[len(f".{target.name}.{kind}-"):].split("-", 1)[0]
            if pid_text.isdigit():
                stale = not _pid_alive(int(pid_text))
            else:  # written by an older hfcompress (no pid in the name): stale if older than an hour
                stale = time.time() - p.stat().st_mtime > 3600
            if stale:
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
                removed.append(p)
    lock = _lock_path(target)
    if lock.is_dir() and not _pid_alive(_lock_owner(lock)):
        shutil.rmtree(lock, ignore_errors=True)
        removed.append(lock)
    return removed


def _lock_path(target: Path) -> Path:
    return target.parent / f".{target.name}.lock"


def _lock_owner(lock: Path) -> int:
    try:
        return int((lock / "pid").read_text().strip() or 0)
    except (OSError, ValueError):
        # being created right now (mkdir done, pid not yet written): treat as alive unless old
        try:
            return -1 if time.time() - lock.stat().st_mtime > 10 else os.getpid()
        except OSError:
            return -1


@contextlib.contextmanager
def publish_lock(target: str | os.PathLike, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Exclusive right to publish at ``target`` (an ``os.mkdir`` lock next to it, across processes)."""
    target = Path(target)
    lock = _lock_path(target)
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.mkdir(lock)
            break
        except FileExistsError:
            if not _pid_alive(_lock_owner(lock)):
                shutil.rmtree(lock, ignore_errors=True)
                continue
            if time.monotonic() > deadline:
                raise OutputDirError(f"{target}: another process is publishing a model there (lock {lock}); "
                                     "try again when it has finished") from None
            time.sleep(0.05)
    try:
        (lock / "pid").write_text(str(os.getpid()))
        yield
    finally:
        shutil.rmtree(lock, ignore_errors=True)


def _check_target(target: Path, where: str = "output folder") -> None:
    from hfcompress.config.paths import refuse_output_file

    try:
        refuse_output_file(target, where=where)
    except HfCompressError as exc:
        raise OutputDirError(str(exc)) from None


def _publish(tmp: Path, target: Path, overwrite: Optional[bool], keep: tuple[str, ...]) -> None:
    with publish_lock(target):
        _check_target(target)
        if not target.exists():
            os.rename(tmp, target)
            return
        held = [p for p in _entries(target) if p.name not in keep]
        if held and overwrite is False:
            names = ", ".join(p.name for p in held[:4]) + (" ..." if len(held) > 4 else "")
            raise OutputDirError(f"{target} is not empty (holds {names}): another run wrote there; pass "
                                 "--overwrite to replace it as a whole, or choose another folder")
        folders = [p for p in held if p.is_dir() and not p.is_symlink()]
        if folders and overwrite is None:
            # a folder of files is one output (a model, a report); one holding other folders is a collection
            # (``out/`` with many models, the inputs of a report): never replaced without an explicit overwrite
            names = ", ".join(p.name + "/" for p in folders[:4]) + (" ..." if len(folders) > 4 else "")
            raise OutputDirError(f"{target} holds other folders ({names}), not one model: not replacing it; "
                                 "choose an empty folder, or pass --overwrite to replace it as a whole")
        # carry over what the finished run itself wrote there (its checkpoints), then swap the folders
        moved = []
        for name in keep:
            src = target / name
            if (src.exists() or src.is_symlink()) and not (tmp / name).exists():
                os.rename(src, tmp / name)
                moved.append(name)
        aside = target.parent / f".{target.name}.old-{os.getpid()}-{time.monotonic_ns()}"
        try:
            os.rename(target, aside)
        except OSError:
            for name in moved:  # put them back: the old folder stays as it was
                os.rename(tmp / name, target / name)
            raise
        try:
            os.rename(tmp, target)
        except OSError:
            os.rename(aside, target)
            for name in moved:
                os.rename(tmp / name, target / name)
            raise
        shutil.rmtree(aside, ignore_errors=True)


@contextlib.contextmanager
def atomic_directory(target: str | Path, overwrite: Optional[bool] = None,
                     keep: Iterable[str] = KEEP_ON_REPLACE) -> Iterator[Path]:
    """Write into a temporary sibling; publish it at ``target`` only if the block succeeds.

    Publishing is exclusive (:func:`publish_lock`) and replaces an existing ``target`` as a whole
    (entries named in ``keep`` that the target holds are carried over). ``overwrite=False`` refuses
    a target holding anything else (checked again at publish time, so a writer that lost a race
    fails instead of mixing); ``None`` (the default) replaces a folder of files (one earlier output)
    but refuses one holding other folders (a collection such as ``out/``, never meant to be
    replaced); ``True`` replaces it whatever it holds. Callers check with :func:`check_output_dir`
    before their work starts. A target that is an existing file is refused before the block runs.
    """
    target = Path(target)
    _check_target(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_partials(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-{os.getpid()}-", dir=target.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        yield tmp
        _publish(tmp, target, overwrite, tuple(keep))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def save_compressed(
    model,
    output_dir: str | Path,
    record: CompressionRecord,
    preprocessor=None,
    card: Optional[str] = None,
    *,
    config=None,
    write_weights: Optional[Callable[[Path], None]] = None,
    overwrite: Optional[bool] = None,
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
    with atomic_directory(output_dir, overwrite=overwrite) as tmp:
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

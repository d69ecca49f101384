"""Loading datasets by their Hub names, from the Hub or from a local mirror.

A mirror is a folder laid out like the Hub's parquet repos:
``<root>/<repo_id>/<config>/<split>-*.parquet`` (or ``<root>/<repo_id>/<split>-*.parquet`` for
repos without configs). The root comes from ``--datasets-mirror`` or the environment variable
``HFCOMPRESS_DATASETS_MIRROR``; without one, ``datasets.load_dataset`` fetches from the Hub.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from hfcompress.errors import DataError

if TYPE_CHECKING:
    import datasets

MIRROR_ENV = "HFCOMPRESS_DATASETS_MIRROR"


def mirror_root(explicit: Optional[str] = None) -> Optional[Path]:
    """The mirror root to use: the explicit argument, else the environment, else None."""
    root = explicit or os.environ.get(MIRROR_ENV)
    if not root:
        return None
    path = Path(root).expanduser()
    if not path.is_dir():
        source = "--datasets-mirror" if explicit else MIRROR_ENV
        raise DataError(f"{source}: dataset mirror folder not found: {path}")
    return path


def mirror_files(root: Path, repo_id: str, config: Optional[str], split: str) -> list[Path]:
    """The parquet files of one split in a mirror, or a DataError naming what is missing."""
    repo_dir = root / repo_id
    if not repo_dir.is_dir():
        raise DataError(f"dataset {repo_id!r} is not in the mirror {root} (no folder {repo_dir})")
    candidates = [repo_dir / config] if config else []
    candidates.append(repo_dir)
    for folder in candidates:
        files = sorted(folder.glob(f"{split}-*.parquet")) or sorted(folder.glob(f"{split}.parquet"))
        if files:
            return files
    where = repo_dir / config if config else repo_dir
    raise DataError(f"split {split!r} of {repo_id}{'/' + config if config else ''} not found in the mirror: "
                    f"no {split}-*.parquet in {where}")


def load_split(
    repo_id: str,
    config: Optional[str],
    split: str,
    mirror: Optional[str] = None,
) -> datasets.Dataset:
    """One split of a Hub dataset, from the mirror when one is configured."""
    import datasets

    root = mirror_root(mirror)
    if root is None:
        try:
            return datasets.load_dataset(repo_id, config, split=split)
        except Exception as exc:  # the Hub client raises many types; name the dataset
            raise DataError(f"cannot load {repo_id} ({config}) split {split!r} from the Hub: {exc}") from None
    files = mirror_files(root, repo_id, config, split)
    for f in files:
        if not os.access(f, os.R_OK):
            raise DataError(f"data file is not readable: {f}")
    try:
        # keep_in_memory: the mirror files are small, and this avoids writing an Arrow cache
        # into the user's HF cache for every (file, split) pair.
        return datasets.load_dataset(
            "parquet", data_files={split: [str(f) for f in files]}, split=split, keep_in_memory=True
        )
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"cannot read data file(s) {', '.join(map(str, files))}: {first}") from None


def mirror_split_names(root: Path, repo_id: str, config: Optional[str]) -> list[str]:
    """The splits a mirror holds for one dataset (config folder first, as :func:`mirror_files`)."""
    repo_dir = root / repo_id
    if not repo_dir.is_dir():
        raise DataError(f"dataset {repo_id!r} is not in the mirror {root} (no folder {repo_dir})")
    for folder in ([repo_dir / config] if config else []) + [repo_dir]:
        names = sorted({f.name.split("-")[0].removesuffix(".parquet") for f in folder.glob("*.parquet")})
        if names:
            return names
    where = repo_dir / config if config else repo_dir
    raise DataError(f"{repo_id}{'/' + config if config else ''}: no parquet files in the mirror folder {where}")


def load_hub_splits(repo_id: str, config: Optional[str], revision: Optional[str] = None,
                    mirror: Optional[str] = None) -> dict[str, datasets.Dataset]:
    """Every split of a Hub dataset: from the mirror when one is configured, else from the Hub.

    The mirror is a snapshot without revisions; ``revision`` only applies to the Hub.
    """
    import datasets

    root = mirror_root(mirror)
    if root is None:
        try:
            loaded = datasets.load_dataset(repo_id, config, revision=revision)
        except Exception as exc:  # the Hub client raises many types; name the dataset
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataError(f"cannot load {repo_id} ({config}) from the Hub: {first}") from None
        return dict(loaded)
    if revision is not None:
        import logging

        logging.getLogger(__name__).warning("%s: revision %r ignored: the dataset mirror %s has one version only",
                                            repo_id, revision, root)
    return {split: load_split(repo_id, config, split, mirror) for split in mirror_split_names(root, repo_id, config)}


# local data: file extension -> (``datasets`` packaged builder, its keyword arguments)
DATA_FILE_BUILDERS: dict[str, tuple[str, dict]] = {
    ".csv": ("csv", {}), ".tsv": ("csv", {"delimiter": "\t"}),
    ".json": ("json", {}), ".jsonl": ("json", {}), ".ndjson": ("json", {}),
    ".parquet": ("parquet", {}),
}


def load_local(path: Path, builder: str, builder_kwargs: dict, data_files: Optional[dict] = None
               ) -> dict[str, datasets.Dataset]:
    """Every split of local data through a ``datasets`` packaged builder.

    A file is one split (``train``); a folder's splits are named by its file or sub-folder names
    (``train.csv``/``test.csv``, ``train/``/``validation/``), as ``datasets`` infers them.
    """
    import datasets

    kwargs = dict(builder_kwargs)
    if data_files is not None:
        kwargs["data_files"] = data_files
    elif path.is_dir():
        kwargs["data_dir"] = str(path)
    else:
        kwargs["data_files"] = {"train": str(path)}
    try:
        loaded = datasets.load_dataset(builder, keep_in_memory=True, **kwargs)
    except Exception as exc:  # pandas / pyarrow / datasets errors: name the file and the first line
        cause: BaseException = exc
        while "error occurred while generating" in str(cause) and (cause.__cause__ or cause.__context__):
            cause = cause.__cause__ or cause.__context__
        first = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        if "corresponds to no data" in first:  # header only: datasets finds no rows for the split
            raise DataError(f"{path}: empty file (no rows)" if path.is_file() else f"{path}: a split has no rows") from None
        raise DataError(f"{path}: cannot read as {builder} ({first})") from None
    return dict(loaded)

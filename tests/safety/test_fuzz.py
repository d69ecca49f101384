"""Issue 17: fuzz the numbers of a valid record and config (negative, huge, wrong type).

Every mutation must give a one-line :class:`HfCompressError` (or load a model that still fits its
weights), never a traceback and never a large allocation: all loads run in one subprocess under a
virtual-memory cap (``RLIMIT_AS``).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tests.safety.test_validation import _pruned, run_capped, valid  # noqa: F401 - fixture
from tests.safety.util import copy_model, snapshot

MUTATIONS = [-1, -(10 ** 9), 10 ** 9, 10 ** 18, 1.5, "12", "x", True, None, [3], {"a": 1}]


def _numbers(obj, path=()):
    """Paths to every number (not bool) inside ``obj``."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _numbers(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _numbers(v, (*path, i))
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield path


def _set(obj, path, value):
    for key in path[:-1]:
        obj = obj[key]
    obj[path[-1]] = value


# fields a rebuild or the skeleton reads: the record's result shapes and the config's sizes
def _interesting(path) -> bool:
    text = "/".join(map(str, path))
    return (text.startswith("hfcompress/stages") and "/result/" in text
            and any(k in text for k in ("kept_heads", "ffn_widths", "module_shapes"))) or (
        len(path) == 1 and path[0] in ("num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size",
                                       "vocab_size", "max_position_embeddings", "type_vocab_size", "embedding_size",
                                       "num_channels")) or (path and path[0] in ("hidden_sizes", "depths"))


@pytest.mark.slow
def test_mutated_records_fail_in_one_line_under_a_memory_cap(valid, tmp_path):  # noqa: F811
    rng = random.Random(17)
    folders: dict[str, Path] = {}
    for kind in ("heads", "ffn", "channels"):
        config = json.loads((valid[kind] / "config.json").read_text())
        paths = [p for p in _numbers(config) if _interesting(p)]
        for path in rng.sample(paths, min(len(paths), 12)):
            for value in rng.sample(MUTATIONS, 3):
                name = f"{kind}-{'.'.join(map(str, path))}={value!r}"
                folder = copy_model(valid[kind], tmp_path / f"m{len(folders)}")
                mutated = json.loads(json.dumps(config))
                _set(mutated, path, value)
                (folder / "config.json").write_text(json.dumps(mutated))
                folders[name] = folder
    before = {n: snapshot(f) for n, f in folders.items()}
    results = run_capped(folders)
    bad = {n: r for n, r in results.items() if r[0] not in ("refused", "loaded")}
    assert not bad, "\n".join(f"{n}: {r}" for n, r in bad.items())
    multiline = {n: r for n, r in results.items() if "\n" in r[1]}
    assert not multiline, multiline
    for n, f in folders.items():
        assert snapshot(f) == before[n], n
    refused = sum(r[0] == "refused" for r in results.values())
    assert refused >= len(results) * 0.6, {n: r for n, r in results.items() if r[0] == "loaded"}

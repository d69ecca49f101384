"""Model cards (README.md with Hub YAML metadata) for models hfcompress saves."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Optional

import yaml

from hfcompress.hub.record import CompressionRecord


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# parameters that only say where files were on the machine that made the model
_LOCAL_KEYS = ("model", "output_dir", "datasets_mirror", "teacher", "json")


def is_hub_id(name: Optional[str]) -> bool:
    """Whether ``name`` looks like a Hub repo id (``owner/name``) and is not a local path."""
    if not name or not isinstance(name, str) or not _HUB_ID.match(name) or ".." in name:
        return False
    return not Path(name).expanduser().exists()


def _public_params(params: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in params.items():
        if k in _LOCAL_KEYS and isinstance(v, str) and not is_hub_id(v):
            continue  # a local path: meaningless to whoever downloads the model
        out[k] = v
    return out


def _stage_text(i: int, stage) -> str:
    """One stage: its method, then every parameter as a YAML block (nothing is cut)."""
    params = _public_params(stage.params if isinstance(stage.params, dict) else {})
    body = yaml.safe_dump(json.loads(json.dumps(params, default=str)), sort_keys=True).strip() if params else "{}"
    return f"{i + 1}. `{stage.method}`\n\n   ```yaml\n" + "\n".join(f"   {line}" for line in body.splitlines()) + \
        "\n   ```"


def write_card(folder: str | Path, record: Optional[CompressionRecord] = None, task=None,
               metrics: Optional[dict[str, Any]] = None, title: Optional[str] = None) -> Path:
    """Write ``folder/README.md`` for a saved (or being-saved) model folder; ``record`` defaults to the one
    in ``folder/config.json``, ``task`` (a Task or a task name) to the record's. Returns the card's path.

    Every command that saves a model calls it (quantized outputs included), so that ``push`` accepts them."""
    folder = Path(folder)
    if record is None:
        config = json.loads((folder / "config.json").read_text())
        record = CompressionRecord.from_model_config(config) or CompressionRecord()
    if isinstance(task, str) or (task is None and record.task):
        from hfcompress.tasks import get_task

        try:
            task = get_task(task or record.task)
        except Exception:  # an unknown task name: a card without task metadata
            task = None
    path = folder / "README.md"
    tmp = folder / f".README.md.{os.getpid()}.tmp"
    tmp.write_text(model_card(record, task, metrics, title=title or folder.name))
    os.replace(tmp, path)  # a reader sees the old card or the new one, never half of one
    return path


def model_card(record: CompressionRecord, task=None, metrics: Optional[dict[str, Any]] = None,
               title: Optional[str] = None) -> str:
    meta: dict[str, Any] = {"library_name": "transformers", "tags": ["hfcompress", *dict.fromkeys(record.methods)]}
    if is_hub_id(record.base_model):
        meta["base_model"] = record.base_model
    if task is not None:
        meta["datasets"] = [task.hub_id]
        meta["pipeline_tag"] = "image-classification" if task.modality == "image" else "text-classification"
    if metrics:
        meta["model-index"] = [{
            "name": title or "model",
            "results": [{
                "task": {"type": meta.get("pipeline_tag", "classification")},
                "dataset": {"name": task.hub_id if task else "", "type": task.hub_id if task else "",
                            "config": task.hub_config if task else None},
                "metrics": [{"type": k, "value": float(v)} for k, v in metrics.items()
                            if isinstance(v, (int, float))],
            }],
        }]
    front = yaml.safe_dump(meta, sort_keys=False).strip()
    steps = "\n\n".join(_stage_text(i, s) for i, s in enumerate(record.stages)) or "(none)"
    if metrics:
        rows = [(k, v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if rows:
            steps += "\n\n## Results\n| metric | value |\n|---|---|\n" + "\n".join(
                f"| {k} | {float(v):.4g} |" for k, v in rows)
    base = record.base_model if is_hub_id(record.base_model) else "a local model" if record.base_model else "scratch"
    return f"""---
{front}
---

# {title or 'hfcompress model'}

Made with hfcompress from `{base}`{f' for `{task.name}`' if task else ''}.

## What was done
{steps}

## How to load it
```python
import hfcompress
model = hfcompress.AutoCompressedModel.from_pretrained("<this folder or Hub id>")
```
or evaluate it: `hfcompress evaluate --task {task.name if task else '<task>'} --model <this folder or Hub id>`.

The full compression record is in `config.json` under the key `hfcompress`.
"""

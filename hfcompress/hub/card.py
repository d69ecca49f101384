"""Model cards (README.md with Hub YAML metadata) for models hfcompress saves."""

from __future__ import annotations

import json
from typing import Any, Optional

import yaml

from hfcompress.hub.record import CompressionRecord


def model_card(record: CompressionRecord, task=None, metrics: Optional[dict[str, Any]] = None,
               title: Optional[str] = None) -> str:
    meta: dict[str, Any] = {"library_name": "transformers", "tags": ["hfcompress", *record.methods]}
    if record.base_model and not record.base_model.startswith(("/", ".", "scratch:")):
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
    steps = "\n".join(f"{i + 1}. `{s.method}`: {json.dumps(s.params, sort_keys=True)[:300]}"
                      for i, s in enumerate(record.stages)) or "(none)"
    return f"""---
{front}
---

# {title or 'hfcompress model'}

Made with hfcompress from `{record.base_model}`{f' for `{task.name}`' if task else ''}.

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

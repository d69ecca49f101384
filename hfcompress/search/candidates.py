"""The candidate pipelines of a search, each a list of ``{family: {fields}}`` stages built from registry names.

Three tiers, cheapest first; the search (:mod:`hfcompress.search.run`) walks them in order and only
goes on to a tier when the one before could not meet the target:

1. ``quantize``: one post-training quantization backend alone (minutes at most, no training);
2. ``prune``: one structural pruning method at a few amounts, smallest first (vocabulary pruning,
   layer dropping, head / FFN pruning for text; block dropping and channel pruning for images),
   followed by the quantization backend that did best in tier 1 (none if none kept the metric);
3. ``train``: training-heavy pipelines: pruning with a distilled recovery fine-tune, and distilled
   students (half the layers), again followed by the best backend.

A candidate's ``group`` and ``amount`` let the search skip larger amounts of a method once a smaller
one has lost too much accuracy (more pruning does not recover accuracy).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Optional

from hfcompress.search.config import matches

# post-training backends tried alone, per modality (fp16/bf16 and bitsandbytes are slower than fp32 on
# CPUs without native support: tried only when named in ``methods``)
QUANT_BACKENDS = {
    "text": ["torch-dynamic", "onnx-dynamic"],
    "image": ["torch-static", "onnx-static"],
}
PINNED_ONLY = ["bnb-8bit", "bnb-4bit", "fp16", "bf16"]
AMOUNTS = (0.25, 0.5)


@dataclasses.dataclass
class Candidate:
    name: str  # a folder name: what it does, e.g. "heads-0.25+torch-dynamic"
    stages: list[dict[str, dict[str, Any]]]
    tier: str  # quantize / prune / train
    group: Optional[str] = None  # candidates of one group differ only by amount (ascending)
    amount: float = 0.0
    why: str = ""  # why it is tried

    def describe(self) -> str:
        parts = []
        for stage in self.stages:
            (family, body), = stage.items()
            fields = ", ".join(f"{k}={v}" for k, v in body.items() if k != "method" and not isinstance(v, dict))
            parts.append(f"{family}:{body.get('method', '')}" + (f"({fields})" if fields else ""))
        return " -> ".join(parts)


def _quant_stage(method: str, modality: str) -> dict[str, dict[str, Any]]:
    body: dict[str, Any] = {"method": method}
    if method.startswith("onnx") and modality == "text":
        body["optimization_level"] = "O2"  # ORT's transformer fusions
    return {"quantize": body}


def stage_names(stage: dict[str, dict[str, Any]]) -> tuple[str, Optional[str]]:
    (family, body), = stage.items()
    method = body.get("method")
    if family == "distill":
        method = None
    return family, method


def allowed(candidate: Candidate, methods: Optional[list[str]], never: Optional[list[str]]) -> Optional[str]:
    """None if every stage of ``candidate`` may run; else why not (the pin or exclusion it breaks)."""
    for stage in candidate.stages:
        family, method = stage_names(stage)
        what = f"{family}:{method}" if method else family
        if never and matches(never, family, method):
            return f"{what} is excluded (never {','.join(never)})"
        if methods and not matches(methods, family, method):
            return f"{what} is not among methods {','.join(methods)}"
    return None


def _name(*parts: str) -> str:
    return re.sub(r"[^\w.+-]+", "_", "+".join(p for p in parts if p))


def quantization_candidates(modality: str, methods: Optional[list[str]] = None) -> list[Candidate]:
    backends = list(QUANT_BACKENDS.get(modality, []))
    # named explicitly (the variant or its group, not the whole quantize family)
    backends += [m for m in PINNED_ONLY if methods and (m in methods or m.split("-")[0] in methods)]
    return [Candidate(m, [_quant_stage(m, modality)], "quantize", why="post-training quantization, no training")
            for m in backends]


def _layer_count(model_config: dict) -> int:
    if "num_hidden_layers" in model_config:
        return int(model_config["num_hidden_layers"])
    return int(sum(model_config.get("depths") or [0]))  # ResNet: residual blocks


def structural_candidates(modality: str, model_config: dict, quant: Optional[str],
                          need_size: bool = False) -> list[Candidate]:
    """Tier 2: one structural method at a few amounts, then ``quant`` (the best tier-1 backend)."""
    tail = [_quant_stage(quant, modality)] if quant else []
    layers = _layer_count(model_config)
    out: list[Candidate] = []
    if modality == "text" and need_size:  # the embedding matrix is most of a small BERT's size
        out.append(Candidate(_name("vocab", quant or ""), [{"prune": {"method": "vocab"}}, *tail], "prune",
                             group="vocab", why="drops the embedding rows of tokens the task's data never uses"))
    counts = sorted({c for c in (max(1, round(layers * a)) for a in (1 / 3, 1 / 2)) if 0 < c < layers})
    for count in counts:
        out.append(Candidate(_name(f"drop_layers-{count}", quant or ""),
                             [{"prune": {"method": "drop_layers", "count": count}}, *tail], "prune",
                             group="drop_layers", amount=count / layers,
                             why=f"drops {count} of {layers} {'layers' if modality == 'text' else 'blocks'}"))
    for method in (("heads", "ffn") if modality == "text" else ("channels",)):
        for amount in AMOUNTS:
            out.append(Candidate(_name(f"{method}-{amount:g}", quant or ""),
                                 [{"prune": {"method": method, "amount": amount}}, *tail], "prune", group=method,
                                 amount=amount, why=f"removes {amount:.0%} of the {method} by importance"))
    return out


def with_train_samples(cand: Candidate, samples: Optional[int]) -> Candidate:
    """``cand`` with every training stage (a distillation, a recovery fine-tune) on ``samples`` examples."""
    stages = []
    for stage in cand.stages:
        (family, body), = stage.items()
        trains = family == "distill" or "finetune_epochs" in body
        body = dict(body)
        if trains:
            body.pop("max_train_samples", None)
            if samples:
                body["max_train_samples"] = samples
        stages.append({family: body})
    return dataclasses.replace(cand, stages=stages)


def train_samples_of(cand: Candidate) -> Optional[int]:
    """The training examples of ``cand``'s training stages (None: the whole split or no training)."""
    for stage in cand.stages:
        (_, body), = stage.items()
        if body.get("max_train_samples"):
            return int(body["max_train_samples"])
    return None


def training_candidates(modality: str, model_config: dict, quant: Optional[str],
                        epochs: float = 1.0) -> list[Candidate]:
    """Tier 3: recovery fine-tunes (distilled from the unpruned model) and distilled students, on the whole
    train split; the search sizes each one's training examples (:func:`with_train_samples`) before it runs."""
    tail = [_quant_stage(quant, modality)] if quant else []
    layers = _layer_count(model_config)
    recovery = {"finetune_epochs": epochs, "recovery": "distill"}
    out: list[Candidate] = []
    if modality == "text" and layers >= 2:
        out.append(Candidate(_name("distill-half", quant or ""),
                             [{"distill": {"student": {"kind": "layers", "every_k": 2}, "epochs": epochs}}, *tail],
                             "train", group="distill", amount=0.5,
                             why="a student with every other layer, distilled from the teacher"))
    count = max(1, layers // 2)
    if count < layers:
        out.append(Candidate(_name(f"drop_layers-{count}-recovered", quant or ""),
                             [{"prune": {"method": "drop_layers", "count": count, **recovery}}, *tail], "train",
                             group="drop_layers-recovered", amount=count / layers,
                             why=f"drops {count} of {layers} layers, then a distilled recovery fine-tune"))
    for method in (("ffn", "heads") if modality == "text" else ("channels",)):
        out.append(Candidate(_name(f"{method}-0.5-recovered", quant or ""),
                             [{"prune": {"method": method, "amount": 0.5, **recovery}}, *tail], "train",
                             group=f"{method}-recovered", amount=0.5,
                             why=f"removes half the {method}, then a distilled recovery fine-tune"))
    return out

"""The one registry of methods. Low in the layering: only strings here, imported lazily.

Two levels, like PEFT's ``PEFT_TYPE_TO_CONFIG_MAPPING`` / tuner classes:

- a :class:`Family` is a recipe section, a CLI command and a pipeline / sweep stage (``train``,
  ``distill``, ``prune``, ``quantize``): its config class, its runner (see
  :mod:`hfcompress.methods.contract`), the config field that names its input model, the record stage(s)
  it writes and the fields a sweep may vary;
- a :class:`Variant` is one method inside a family, chosen by the config's ``method`` field (a pruning
  method, a quantization backend): its implementation class (a strategy object that checks a request,
  applies itself, and rebuilds or loads what it saved) and the record stage it writes.

Adding a method = one module with its strategy class + one ``Variant`` line below. A test imports every
entry (``tests/methods/test_registry.py``).
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Optional

from hfcompress.errors import ConfigError

_TRAINING_SWEEP = ("epochs", "learning_rate", "batch_size", "weight_decay", "warmup_ratio", "max_train_samples",
                   "seed")


@dataclasses.dataclass(frozen=True)
class Family:
    name: str  # recipe section, CLI command, pipeline stage key
    config: str  # "module:Class" of its typed config
    runner: str  # "module:function": run(cfg, *, model=None, resume=False, overwrite=False, callbacks=None)
    input_field: str  # the config field naming the input model
    stage: Optional[str]  # the record stage it writes (None: the variant's)
    sweepable: tuple[str, ...]  # config fields a sweep may vary
    help: str = ""
    # "module:function" giving [(label, EvalConfig)] the caller evaluates after a run (CLI, pipeline)
    evaluations: Optional[str] = None
    saved: str = "saved to"  # what the CLI prints before the output folder


@dataclasses.dataclass(frozen=True)
class Variant:
    family: str
    name: str  # the value of the family config's ``method`` field
    impl: str  # "module:Class" of its strategy
    stage: str  # the record stage it writes


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("train", "hfcompress.config.recipe:TrainConfig", "hfcompress.training.train:train", "model", "finetune",
           _TRAINING_SWEEP, "fine-tune a model on a task (plain transformers.Trainer)", saved="saved model to"),
    Family("distill", "hfcompress.distill.config:DistillConfig", "hfcompress.distill.api:distill", "teacher",
           "distill", (*_TRAINING_SWEEP, "temperature", "alpha"),
           "knowledge distillation: train a small student from a teacher", "hfcompress.distill.api:evaluations",
           saved="saved student to"),
    Family("prune", "hfcompress.prune.config:PruneConfig", "hfcompress.prune.api:prune", "model", None,
           ("amount", "count", "mac_reduction", "initial_sparsity", "schedule_start", "schedule_end",
            "schedule_updates", "score_samples", "vocab_samples", "finetune_epochs", "recovery_temperature",
            "recovery_ce_weight", "learning_rate", "batch_size", "max_train_samples", "seed"),
           "prune heads, FFN neurons, conv channels, weights (unstructured), layers or vocabulary",
           "hfcompress.prune.api:evaluations", saved="saved pruned model to"),
    Family("quantize", "hfcompress.quantize.config:QuantizeConfig", "hfcompress.quantize.api:quantize", "model",
           "quantize", ("calibration_samples", "calibration_batch_size", "percentile", "llm_int8_threshold",
                        "epochs", "learning_rate", "batch_size", "max_train_samples", "auto_max_accuracy_drop",
                        "auto_eval_samples", "seed"),
           "INT8/4-bit quantization (ONNX Runtime, PyTorch, QAT, bitsandbytes) and fp16/bf16 baselines",
           saved="saved quantized model to"),
)}

_P, _Q = "hfcompress.prune.methods", "hfcompress.quantize.backends"
VARIANTS: dict[tuple[str, str], Variant] = {(v.family, v.name): v for v in (
    Variant("prune", "heads", f"{_P}:HeadPruning", "prune_heads"),
    Variant("prune", "ffn", f"{_P}:FFNPruning", "prune_ffn"),
    Variant("prune", "channels", f"{_P}:ChannelPruning", "prune_channels"),
    Variant("prune", "unstructured", f"{_P}:UnstructuredPruning", "prune_unstructured"),
    Variant("prune", "drop_layers", f"{_P}:LayerDropping", "prune_layers"),
    Variant("prune", "vocab", f"{_P}:VocabPruning", "prune_vocab"),
    Variant("quantize", "auto", "hfcompress.quantize.auto:AutoSelect", "quantize"),
    Variant("quantize", "onnx-fp32", f"{_Q}:OnnxRuntime", "quantize"),
    Variant("quantize", "onnx-dynamic", f"{_Q}:OnnxRuntime", "quantize"),
    Variant("quantize", "onnx-static", f"{_Q}:OnnxRuntime", "quantize"),
    Variant("quantize", "torch-dynamic", f"{_Q}:TorchDynamic", "quantize"),
    Variant("quantize", "torch-static", f"{_Q}:TorchStatic", "quantize"),
    Variant("quantize", "qat", f"{_Q}:QuantizationAwareTraining", "quantize"),
    Variant("quantize", "bnb-8bit", f"{_Q}:BitsAndBytes", "quantize"),
    Variant("quantize", "bnb-4bit", f"{_Q}:BitsAndBytes", "quantize"),
    Variant("quantize", "fp16", f"{_Q}:HalfPrecision", "quantize"),
    Variant("quantize", "bf16", f"{_Q}:HalfPrecision", "quantize"),
)}

# Modules that register loaders with hfcompress.hub.load when imported (how a saved model of a
# backend is read back). Skeleton rebuilds need no plugin: they are found through the variants.
LOADER_PLUGINS = ("hfcompress.quantize.loaders", "hfcompress.embeddings.loader")


@dataclasses.dataclass(frozen=True)
class ModelKind:
    """A kind of model that runs its own runners, whatever family: its strategy (``impl``) says whether it
    claims a method's input model and task (``claims``), how it is scored on a task (``task``) and its runner
    for a family (``runner``; None: the family's own)."""

    name: str
    impl: str  # "module:Class"


MODEL_KINDS: dict[str, ModelKind] = {k.name: k for k in (
    ModelKind("sentence-embedding", "hfcompress.embeddings.kind:SentenceEmbedding"),  # sentence-transformers
)}


_instances: dict[str, Any] = {}


def _import(spec: str) -> Any:
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


def family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise ConfigError(f"unknown method {name!r}; choose from {', '.join(FAMILIES)}") from None


def config_class(name: str):
    spec = family(name).config
    try:
        return _import(spec)
    except (ImportError, AttributeError):
        raise ConfigError(f"method {name!r} is not available in this installation ({spec})") from None


def runner(name: str):
    """The family's runner (see :mod:`hfcompress.methods.contract`)."""
    return _import(family(name).runner)


def model_kind(model, task=None):
    """The strategy of the model kind that claims ``model`` (a path, Hub id or LoadedModel) with ``task``, or None."""
    for kind in MODEL_KINDS.values():
        if kind.impl not in _instances:
            _instances[kind.impl] = _import(kind.impl)()
        if _instances[kind.impl].claims(model, task):
            return _instances[kind.impl]
    return None


def runner_for(name: str, cfg, model=None):
    """The runner of family ``name`` for this input: the model kind's where one claims it, else the family's."""
    source = model if model is not None else getattr(cfg, family(name).input_field, None)
    kind = model_kind(source, getattr(cfg, "task", None))
    run = kind.runner(name) if kind is not None else None
    return run or runner(name)


def family_of_config(cfg) -> str:
    """The family name whose config class ``cfg`` is an instance of."""
    for name in FAMILIES:
        if isinstance(cfg, config_class(name)):
            return name
    raise ConfigError(f"{type(cfg).__name__} is not the config of a method ({', '.join(FAMILIES)})")


def evaluations(name: str, cfg) -> list:
    """[(label, EvalConfig)] to evaluate after running family ``name`` with ``cfg`` (may be empty)."""
    spec = family(name).evaluations
    return _import(spec)(cfg) if spec else []


def variants_of(family_name: str) -> list[str]:
    return [v.name for v in VARIANTS.values() if v.family == family_name]


def variant(family_name: str, name: str) -> Variant:
    try:
        return VARIANTS[(family_name, name)]
    except KeyError:
        raise ConfigError(f"{family_name}.method: unknown method {name!r}; choose from "
                          f"{', '.join(variants_of(family_name))}") from None


def variant_impl(family_name: str, name: str):
    """The strategy object of one variant (instantiated once)."""
    spec = variant(family_name, name).impl
    if spec not in _instances:
        _instances[spec] = _import(spec)()
    return _instances[spec]


def stage_variant(stage_method: str) -> list[Variant]:
    """The variants that write record stage ``stage_method`` (e.g. ``prune_heads``)."""
    return [v for v in VARIANTS.values() if v.stage == stage_method]


def family_of_stage(stage_method: str) -> str:
    """The family whose runner writes record stage ``stage_method`` (``prune_heads`` -> ``prune``)."""
    for fam in FAMILIES.values():
        if fam.stage == stage_method:
            return fam.name
    for v in VARIANTS.values():
        if v.stage == stage_method:
            return v.family
    raise ConfigError(f"record stage {stage_method!r} is not written by any method of this installation")


def known_stages() -> set[str]:
    """Every record stage name a method of this installation can write."""
    return {f.stage for f in FAMILIES.values() if f.stage} | {v.stage for v in VARIANTS.values()}


def rebuilder(stage_method: str):
    """The strategy that reshapes a fresh skeleton for a saved stage, or None (no reshape needed)."""
    for v in stage_variant(stage_method):
        impl = variant_impl(v.family, v.name)
        if getattr(impl, "rebuilds", False):
            return impl
    return None

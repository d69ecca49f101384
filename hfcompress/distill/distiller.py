"""The weighted sum of named loss terms, and how it is assembled from a config and two models."""

from __future__ import annotations

import dataclasses
import math
from typing import Optional, Sequence

import torch

from hfcompress.distill.config import LossConfig
from hfcompress.distill.features import (FeatureRecorder, attention_heads, check_paths, embedding_path,
                                         num_layers, layer_paths, pooler_path, use_eager_attention)
from hfcompress.distill.losses import (AttentionLoss, CRDLoss, DistillStep, HardLabelLoss, HiddenStateLoss,
                                       LogitLoss, check_heads)
from hfcompress.errors import ConfigError

# Name under which the distiller is attached to the student during training (see DistillationTrainer).
ATTACH_NAME = "distill_heads"


def uniform_layer_map(n_student: int, n_teacher: int) -> list[list[int]]:
    """Student layer i -> teacher layer ceil((i+1) * n_teacher / n_student) - 1 (last maps to last)."""
    return [[i, max(0, math.ceil((i + 1) * n_teacher / n_student) - 1)] for i in range(n_student)]


def validate_layer_map(layer_map: Sequence[Sequence[int]], n_student: int, n_teacher: int, where: str) -> None:
    if not layer_map:
        raise ConfigError(f"{where}: the layer map is empty")
    for i, (s, t) in enumerate(layer_map):
        if not 0 <= s < n_student:
            raise ConfigError(f"{where}[{i}]: student layer {s} does not exist (student has {n_student} layers)")
        if not 0 <= t < n_teacher:
            raise ConfigError(f"{where}[{i}]: teacher layer {t} does not exist (teacher has {n_teacher} layers)")


class Distiller(torch.nn.Module):
    """Holds the loss modules (with their learnable projections / memory banks) and the hooks.

    ``forward(step)`` returns the weighted total and each term's value. A term that is not
    finite stops training with an error naming the term: continuing would only spread NaN
    through the student.
    """

    def __init__(self, terms: dict[str, torch.nn.Module], weights: dict[str, float],
                 student_paths: Sequence[str] = (), teacher_paths: Sequence[str] = (),
                 needs_attentions: bool = False, description: Optional[dict] = None):
        super().__init__()
        self.terms = torch.nn.ModuleDict(terms)
        self.weights = dict(weights)
        self.student_paths = list(dict.fromkeys(student_paths))
        self.teacher_paths = list(dict.fromkeys(teacher_paths))
        self.needs_attentions = needs_attentions
        self.description = description or {}
        self.attention_before: dict[str, Optional[str]] = {}  # attention implementations to restore
        self.student_recorder: Optional[FeatureRecorder] = None
        self.teacher_recorder: Optional[FeatureRecorder] = None

    @property
    def needs_teacher_logits(self) -> bool:
        """False for a supervised-only baseline (just ``ce``): then the teacher need not run."""
        return "logits" in self.terms

    @property
    def needs_teacher_features(self) -> bool:
        return bool(self.teacher_paths) or self.needs_attentions

    def attach_hooks(self, student: torch.nn.Module, teacher: Optional[torch.nn.Module]) -> None:
        self.detach_hooks()
        self.student_recorder = FeatureRecorder(student, self.student_paths)
        if teacher is not None:
            self.teacher_recorder = FeatureRecorder(teacher, self.teacher_paths)

    def detach_hooks(self) -> None:
        for rec in (self.student_recorder, self.teacher_recorder):
            if rec is not None:
                rec.remove()
        self.student_recorder = self.teacher_recorder = None

    def restore_attention(self, student: torch.nn.Module, teacher: Optional[torch.nn.Module]) -> None:
        """Switch the models back from eager attention after training (it is slower at inference)."""
        for name, model in (("student", student), ("teacher", teacher)):
            before = self.attention_before.get(name)
            if before and model is not None:
                use_eager_attention(model, before)

    def clear(self) -> None:
        for rec in (self.student_recorder, self.teacher_recorder):
            if rec is not None:
                rec.clear()

    def forward(self, step: DistillStep) -> tuple[torch.Tensor, dict[str, float]]:
        if self.student_recorder is not None:
            step.student_feature = self.student_recorder.get
        if self.teacher_recorder is not None:
            step.teacher_feature = self.teacher_recorder.get
        total = torch.zeros((), device=step.student_logits.device)
        values: dict[str, float] = {}
        for name, term in self.terms.items():
            value = term(step)
            v = float(value.detach())
            if not torch.isfinite(value.detach()):
                raise FloatingPointError(f"distillation loss term {name!r} is {v} (not finite); stopping. "
                                         "Lower the learning rate or this term's weight, or check the inputs.")
            values[name] = v
            total = total + self.weights[name] * value
        return total, values


def _feature_pairs(cfg: LossConfig, student, teacher, where: str) -> tuple[list[tuple[str, str]], list[list[int]]]:
    """(student path, teacher path) pairs of the hidden loss, and the layer map used."""
    if cfg.student_modules is not None:
        check_paths(student, cfg.student_modules, f"{where}.student_modules")
        check_paths(teacher, cfg.teacher_modules, f"{where}.teacher_modules")
        return list(zip(cfg.student_modules, cfg.teacher_modules)), []
    ns, nt = num_layers(student), num_layers(teacher)
    layer_map = cfg.layer_map or uniform_layer_map(ns, nt)
    validate_layer_map(layer_map, ns, nt, f"{where}.layer_map")
    s_paths, t_paths = layer_paths(student), layer_paths(teacher)
    pairs = [(s_paths[s], t_paths[t]) for s, t in layer_map]
    if cfg.embeddings:
        pairs.insert(0, (embedding_path(student), embedding_path(teacher)))
    return pairs, [list(p) for p in layer_map]


@torch.no_grad()
def _probe_shapes(model: torch.nn.Module, paths: Sequence[str], batch: dict) -> dict[str, torch.Size]:
    """Run one batch through ``model`` to learn each path's feature shape (sizes the projections)."""
    if not paths:
        return {}
    recorder = FeatureRecorder(model, paths)
    was_training = model.training
    try:
        model.eval()
        model(**batch)
        return {p: recorder.get(p).shape for p in recorder.paths}
    finally:
        recorder.remove()
        model.train(was_training)


@dataclasses.dataclass
class TermPlan:
    """What a loss term needs, decided before any model runs: hooked paths, its record entry, its data."""

    student_paths: list[str] = dataclasses.field(default_factory=list)
    teacher_paths: list[str] = dataclasses.field(default_factory=list)
    description: dict = dataclasses.field(default_factory=dict)
    data: object = None


class TermBuilder:
    """How one named loss term is checked against the two models (``plan``) and built (``build``, once
    the features' shapes are known from a probe batch). One class per term, registered in TERMS."""

    def plan(self, cfg: LossConfig, student, teacher, where: str, temperature: float) -> TermPlan:
        return TermPlan(description={"weight": cfg.weight})

    def build(self, cfg: LossConfig, plan: TermPlan, s_shapes: dict, t_shapes: dict, *, student, teacher,
              temperature: float, regression: bool, n_train: int, where: str) -> torch.nn.Module:  # pragma: no cover
        raise NotImplementedError


class LogitsTerm(TermBuilder):
    def plan(self, cfg, student, teacher, where, temperature):
        return TermPlan(description={"weight": cfg.weight, "temperature": cfg.temperature or temperature})

    def build(self, cfg, plan, s_shapes, t_shapes, *, temperature, regression, **_):
        return LogitLoss(cfg.temperature or temperature, regression)


class HardLabelTerm(TermBuilder):
    def build(self, cfg, plan, s_shapes, t_shapes, *, regression, **_):
        return HardLabelLoss(regression)


class HiddenTerm(TermBuilder):
    def plan(self, cfg, student, teacher, where, temperature):
        pairs, layer_map = _feature_pairs(cfg, student, teacher, where)
        return TermPlan([p for p, _ in pairs], [p for _, p in pairs], data=pairs,
                        description={"weight": cfg.weight, "layer_map": layer_map, "pairs": [list(p) for p in pairs]})

    def build(self, cfg, plan, s_shapes, t_shapes, *, where, **_):
        try:
            return HiddenStateLoss(plan.data, [(s_shapes[s], t_shapes[t]) for s, t in plan.data])
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None


class AttentionTerm(TermBuilder):
    def plan(self, cfg, student, teacher, where, temperature):
        ns, nt = num_layers(student), num_layers(teacher)
        layer_map = cfg.layer_map or uniform_layer_map(ns, nt)
        validate_layer_map(layer_map, ns, nt, f"{where}.layer_map")
        check_heads(attention_heads(student), attention_heads(teacher), where)
        return TermPlan(data=layer_map, description={"weight": cfg.weight, "layer_map": [list(p) for p in layer_map]})

    def build(self, cfg, plan, s_shapes, t_shapes, *, student, teacher, **_):
        return AttentionLoss([tuple(p) for p in plan.data], attention_heads(student), attention_heads(teacher))


class CRDTerm(TermBuilder):
    def plan(self, cfg, student, teacher, where, temperature):
        sp = cfg.student_module or pooler_path(student)
        tp = cfg.teacher_module or pooler_path(teacher)
        check_paths(student, [sp], f"{where}.student_module")
        check_paths(teacher, [tp], f"{where}.teacher_module")
        return TermPlan([sp], [tp], data=(sp, tp), description={
            "weight": cfg.weight, "student_module": sp, "teacher_module": tp, "feature_dim": cfg.feature_dim,
            "negatives": cfg.negatives, "in_batch_negatives": cfg.in_batch_negatives,
            "nce_temperature": cfg.nce_temperature})

    def build(self, cfg, plan, s_shapes, t_shapes, *, n_train, **_):
        sp, tp = plan.data
        return CRDLoss(sp, tp, _flat_dim(s_shapes[sp]), _flat_dim(t_shapes[tp]), n_data=n_train,
                       feature_dim=cfg.feature_dim, negatives=cfg.negatives, temperature=cfg.nce_temperature,
                       momentum=cfg.momentum, in_batch=cfg.in_batch_negatives)


# loss name (LossConfig.name) -> its builder: a new term is one loss module + one entry here
TERMS: dict[str, TermBuilder] = {"logits": LogitsTerm(), "ce": HardLabelTerm(), "hidden": HiddenTerm(),
                                 "attention": AttentionTerm(), "crd": CRDTerm()}


def build_distiller(losses: Sequence[LossConfig], student: torch.nn.Module, teacher: torch.nn.Module, *,
                    temperature: float, regression: bool, n_train: int, probe_batch: dict,
                    where: str = "distill.losses") -> Distiller:
    """Check every term against the two models and build its module. Raises ConfigError naming the term."""
    plans = []
    for i, cfg in enumerate(losses):
        w = f"{where}[{i}] ({cfg.name})"
        plans.append((cfg, TERMS[cfg.name].plan(cfg, student, teacher, w, temperature), w))
    s_paths = [p for _, plan, _ in plans for p in plan.student_paths]
    t_paths = [p for _, plan, _ in plans for p in plan.teacher_paths]
    s_shapes, t_shapes = _probe_shapes(student, s_paths, probe_batch), _probe_shapes(teacher, t_paths, probe_batch)
    terms: dict[str, torch.nn.Module] = {}
    for cfg, plan, w in plans:
        terms[cfg.name] = TERMS[cfg.name].build(cfg, plan, s_shapes, t_shapes, student=student, teacher=teacher,
                                                 temperature=temperature, regression=regression, n_train=n_train,
                                                 where=w)
    description = {"temperature": temperature, "terms": {cfg.name: plan.description for cfg, plan, _ in plans}}
    needs_attentions = "attention" in terms
    distiller = Distiller(terms, {cfg.name: cfg.weight for cfg, _, _ in plans}, s_paths, t_paths, needs_attentions,
                          description)
    if needs_attentions:
        distiller.attention_before = {"student": use_eager_attention(student), "teacher": use_eager_attention(teacher)}
    return distiller


def _flat_dim(shape: torch.Size) -> int:
    """Pooled feature width: D of (B, D) / (B, T, D), C of (B, C, H, W)."""
    return int(shape[1]) if len(shape) == 4 else int(shape[-1])

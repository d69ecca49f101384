"""Typed configuration of a distillation run (the ``distill`` section of a recipe).

Everything that can be checked without loading a model is checked here (loss names, weights,
option combinations); what needs the models (layer maps, widths, head counts, label sets) is
checked by :func:`hfcompress.distill.api.prepare` right after the models are built and before
the first training step. The whole config is stored in the saved student's compression record.
"""

from __future__ import annotations

import dataclasses
from typing import Literal, Optional, Union

from hfcompress.config.base import Config
from hfcompress.config.recipe import TrainingConfig, check_positive
from hfcompress.errors import ConfigError
from hfcompress.tasks.spec import TaskSpec

LOSS_NAMES = ("logits", "ce", "hidden", "attention", "crd")
# losses that need the teacher's internal features (not just its logits) at every step
FEATURE_LOSSES = ("hidden", "attention", "crd")


@dataclasses.dataclass
class LossConfig(Config):
    """One named term of the weighted loss sum.

    ``logits``: KL(teacher || student) at ``temperature`` times T² (MSE on logits for regression).
    ``ce``: cross-entropy (or MSE for regression) against the dataset labels.
    ``hidden``: MSE between student and teacher layer outputs (FitNets / TinyBERT), through a
    learned linear projection when widths differ; ``layer_map`` pairs [student, teacher] layer
    indices (uniform by default), ``embeddings`` adds the embedding-layer output, and
    ``student_modules``/``teacher_modules`` pick arbitrary module paths instead of layers.
    ``attention``: MSE between attention maps of the mapped layers (TinyBERT).
    ``crd``: contrastive representation distillation on pooled features (Tian et al. 2020).
    """

    name: str
    weight: float = 1.0
    temperature: Optional[float] = None  # logits; default: DistillConfig.temperature
    layer_map: Optional[list[list[int]]] = None  # hidden / attention
    embeddings: bool = False  # hidden
    student_modules: Optional[list[str]] = None  # hidden; module paths instead of layer indices
    teacher_modules: Optional[list[str]] = None
    feature_dim: int = 128  # crd: embedding size of the projection heads
    negatives: int = 4096  # crd: negatives drawn from the memory bank per sample
    nce_temperature: float = 0.07  # crd
    momentum: float = 0.5  # crd: memory-bank update momentum
    in_batch_negatives: bool = False  # crd: other batch samples are the negatives, no memory bank
    student_module: Optional[str] = None  # crd: module whose output is the pooled feature
    teacher_module: Optional[str] = None

    def validate(self, where: str) -> None:
        if self.name not in LOSS_NAMES:
            raise ConfigError(f"{where}.name: unknown loss {self.name!r}; known: {', '.join(LOSS_NAMES)}")
        if self.weight < 0:
            raise ConfigError(f"{where}.weight: must be >= 0, got {self.weight}")
        check_positive(where, temperature=self.temperature, feature_dim=self.feature_dim, negatives=self.negatives,
                  nce_temperature=self.nce_temperature)
        if not 0 <= self.momentum < 1:
            raise ConfigError(f"{where}.momentum: must be in [0, 1), got {self.momentum}")
        for i, pair in enumerate(self.layer_map or []):
            if len(pair) != 2 or min(pair) < 0:
                raise ConfigError(f"{where}.layer_map[{i}]: expected [student_layer, teacher_layer] "
                                  f"(non-negative), got {pair}")
        if (self.student_modules is None) != (self.teacher_modules is None):
            raise ConfigError(f"{where}: give both student_modules and teacher_modules, or neither")
        if self.student_modules is not None:
            if len(self.student_modules) != len(self.teacher_modules):
                raise ConfigError(f"{where}.teacher_modules: {len(self.teacher_modules)} paths for "
                                  f"{len(self.student_modules)} student_modules")
            if self.layer_map is not None:
                raise ConfigError(f"{where}: layer_map and student_modules exclude each other")


@dataclasses.dataclass
class StudentConfig(Config):
    """How the student is made.

    ``layers``: the teacher's architecture with a subset of its layers, weights copied
    (DistilBERT-style): ``layers`` lists teacher layer indices, or ``every_k`` keeps layers
    k-1, 2k-1, ... (so the last layer, whose output the classifier was trained on, is kept);
    neither given: ``every_k: 2`` (half the layers, as DistilBERT).
    ``tinybert``: the teacher's architecture, shallower and narrower, initialised fresh
    (``embedding_init: teacher_svd`` projects the teacher's embeddings onto their top principal
    directions instead of random ones).
    ``model``: any model name, folder or ``scratch:<arch>`` (e.g. ``scratch:resnet10-w16``).
    """

    kind: Literal["layers", "tinybert", "model"] = "layers"
    layers: Optional[list[int]] = None
    every_k: Optional[int] = None
    num_layers: int = 4
    hidden_size: Optional[int] = None
    intermediate_size: Optional[int] = None
    num_attention_heads: Optional[int] = None
    embedding_init: Literal["fresh", "teacher_svd"] = "fresh"
    model: Optional[str] = None

    def validate(self, where: str) -> None:
        check_positive(where, every_k=self.every_k, num_layers=self.num_layers, hidden_size=self.hidden_size,
                  intermediate_size=self.intermediate_size, num_attention_heads=self.num_attention_heads)
        if self.kind == "layers" and self.layers is None and self.every_k is None:
            self.every_k = 2  # DistilBERT's choice: every other teacher layer, the last one kept
        if self.kind == "layers" and self.layers is not None:
            if not self.layers or min(self.layers) < 0:
                raise ConfigError(f"{where}.layers: expected non-negative teacher layer indices, got {self.layers}")
            if len(set(self.layers)) != len(self.layers):
                raise ConfigError(f"{where}.layers: repeated layer in {self.layers}")
        if self.kind == "model" and not self.model:
            raise ConfigError(f"{where}.model: kind 'model' needs a model name, folder or scratch:<arch>")


@dataclasses.dataclass
class TextAugmentConfig(Config):
    """``distill.text_augmentation``: extra word-replaced copies of each training example (text tasks).

    Implemented in :mod:`hfcompress.distill.augment`. A copy is labelled by the teacher only: the
    ``ce`` term (the dataset's labels) skips it unless ``label_copies`` (a word's nearest neighbours
    include its antonyms, "good" -> "bad", so a copy may not deserve its source's label); TinyBERT
    trains on the copies with teacher targets only (``logits``, ``hidden``, ``attention``).
    """

    copies: int = 4  # extra copies per example (TinyBERT: 20 for small GLUE tasks)
    replace_prob: float = 0.4  # chance that a whole word is replaced (TinyBERT's p_t)
    neighbours: int = 15  # candidates per word: its nearest words in the teacher's embeddings (TinyBERT's K)
    label_copies: bool = False  # copies keep their source's label for the ce term

    def validate(self, where: str) -> None:
        check_positive(where, copies=self.copies, neighbours=self.neighbours)
        if not 0 < self.replace_prob <= 1:
            raise ConfigError(f"{where}.replace_prob: must be in (0, 1], got {self.replace_prob}")


@dataclasses.dataclass
class DistillConfig(TrainingConfig):
    """A whole distillation: teacher, student, weighted loss terms, outputs; training knobs from
    :class:`~hfcompress.config.recipe.TrainingConfig` (shared with fine-tuning)."""

    task: Union[str, TaskSpec]  # a built-in task name, or your data: {dataset: ..., text_columns: [...], ...}
    teacher: str
    output_dir: str
    student: StudentConfig = dataclasses.field(default_factory=StudentConfig)
    losses: list[LossConfig] = dataclasses.field(
        default_factory=lambda: [LossConfig(name="logits", weight=1.0), LossConfig(name="ce", weight=0.5)])
    temperature: float = 2.0
    # Hinton et al.'s soft/hard balance, for sweeps: when set, the ``logits`` term weighs alpha and the
    # ``ce`` term 1 - alpha (both must be listed in ``losses``; their listed weights are replaced)
    alpha: Optional[float] = None
    offline_teacher: bool = False  # precompute teacher logits once over the training set
    mixed_precision: Optional[Literal["bf16", "fp16"]] = None
    eval_teacher: bool = True
    eval_repeats: int = 20
    # text tasks: TinyBERT's data augmentation, word-replaced copies of every training example
    text_augmentation: Optional[TextAugmentConfig] = None

    def validate(self, where: str) -> None:
        super().validate(where)
        self.student.validate(f"{where}.student")  # the default student too, not only one given in a recipe
        check_positive(where, temperature=self.temperature, eval_repeats=self.eval_repeats)
        if not self.losses:
            raise ConfigError(f"{where}.losses: at least one loss term is needed")
        names = [l.name for l in self.losses]
        if self.alpha is not None:
            if not 0 <= self.alpha <= 1:
                raise ConfigError(f"{where}.alpha: must be in [0, 1], got {self.alpha}")
            missing = [n for n in ("logits", "ce") if n not in names]
            if missing:
                raise ConfigError(f"{where}.alpha: balances the 'logits' and 'ce' terms; losses has no {missing[0]!r}")
            for term in self.losses:
                if term.name in ("logits", "ce"):
                    term.weight = self.alpha if term.name == "logits" else 1.0 - self.alpha
        for name in set(names):
            if names.count(name) > 1:
                raise ConfigError(f"{where}.losses: {name!r} appears {names.count(name)} times")
        if sum(l.weight for l in self.losses) <= 0:
            raise ConfigError(f"{where}.losses: all weights are zero")
        if self.offline_teacher:
            feature = [n for n in names if n in FEATURE_LOSSES]
            if feature:
                raise ConfigError(f"{where}.offline_teacher: precomputed teacher logits cannot serve the "
                                  f"{feature[0]!r} loss, which needs teacher features at every step")
        if self.text_augmentation is not None:
            self.text_augmentation.validate(f"{where}.text_augmentation")
            if not self.text_augmentation.label_copies and all(l.name == "ce" for l in self.losses):
                raise ConfigError(f"{where}.text_augmentation: the copies are labelled by the teacher only, "
                                  "and losses has no teacher term (logits, hidden, attention, crd); add one or "
                                  "set label_copies: true")

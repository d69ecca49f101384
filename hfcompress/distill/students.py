"""Student builders: a subset of the teacher's layers (DistilBERT), a narrow fresh config (TinyBERT),
or any model (e.g. a smaller ResNet for CIFAR-10)."""

from __future__ import annotations

import copy
from typing import Optional, Sequence

import torch

from hfcompress.distill.config import StudentConfig
from hfcompress.distill.features import layer_list_path, num_layers
from hfcompress.errors import ConfigError
from hfcompress.hub.record import RECORD_KEY


def _fresh_config(teacher, **changes):
    config = copy.deepcopy(teacher.config)
    if hasattr(config, RECORD_KEY):  # the teacher's compression record is not the student's
        delattr(config, RECORD_KEY)
    for key, value in changes.items():
        setattr(config, key, value)
    return config


def every_kth(n_teacher: int, k: int) -> list[int]:
    """Teacher layers k-1, 2k-1, ...: keeps the last layer, whose output the classifier was trained on."""
    return list(range(k - 1, n_teacher, k))


def layer_subset_student(teacher: torch.nn.Module, layers: Sequence[int], where: str = "student.layers"):
    """DistilBERT-style: the teacher's architecture with only ``layers``, their weights and everything
    else (embeddings, pooler, classifier) copied from the teacher."""
    n_teacher = num_layers(teacher)
    bad = [l for l in layers if not 0 <= l < n_teacher]
    if bad or not layers:
        raise ConfigError(f"{where}: teacher layer(s) {bad or layers} do not exist (teacher has {n_teacher} layers)")
    config = _fresh_config(teacher, num_hidden_layers=len(layers))
    student = type(teacher)(config)
    prefix = layer_list_path(teacher) + "."
    new_index = {old: new for new, old in enumerate(layers)}
    state = {}
    for key, value in teacher.state_dict().items():
        if key.startswith(prefix):
            old, _, rest = key[len(prefix):].partition(".")
            if int(old) not in new_index:
                continue
            key = f"{prefix}{new_index[int(old)]}.{rest}"
        state[key] = value.clone()
    student.load_state_dict(state, strict=True)
    return student


def tinybert_student(teacher: torch.nn.Module, num_layers_: int = 4, hidden_size: Optional[int] = None,
                     intermediate_size: Optional[int] = None, num_attention_heads: Optional[int] = None,
                     embedding_init: str = "fresh", where: str = "student"):
    """TinyBERT-style: shallower and narrower than the teacher, freshly initialised.

    ``embedding_init='teacher_svd'`` starts the word/position/type embeddings from the teacher's,
    projected onto the top ``hidden_size`` right-singular directions of the teacher's word
    embedding matrix: a cheap stand-in for TinyBERT's general (pre-training) distillation.
    """
    tc = teacher.config
    hidden = hidden_size or tc.hidden_size
    heads = num_attention_heads or tc.num_attention_heads
    if hidden % heads:
        raise ConfigError(f"{where}.hidden_size: {hidden} is not divisible by num_attention_heads {heads}")
    config = _fresh_config(teacher, num_hidden_layers=num_layers_, hidden_size=hidden,
                           intermediate_size=intermediate_size or 4 * hidden, num_attention_heads=heads)
    if hasattr(config, "head_dim"):
        config.head_dim = hidden // heads
    student = type(teacher)(config)
    if embedding_init == "teacher_svd":
        _svd_embeddings(teacher, student, hidden)
    return student


@torch.no_grad()
def _svd_embeddings(teacher, student, width: int) -> None:
    t_emb, s_emb = teacher.base_model.embeddings, student.base_model.embeddings
    words = t_emb.word_embeddings.weight.float()
    _, _, vh = torch.linalg.svd(words - words.mean(0), full_matrices=False)
    proj = vh[:width].T  # (teacher width, student width)
    for name in ("word_embeddings", "position_embeddings", "token_type_embeddings"):
        src, dst = getattr(t_emb, name, None), getattr(s_emb, name, None)
        if src is not None and dst is not None:
            dst.weight.copy_(src.weight.float() @ proj)


def build_student(spec: StudentConfig, teacher: torch.nn.Module, task, where: str = "distill.student"):
    """The student model and, for ``kind: model``, its own preprocessor (else None: the teacher's)."""
    if spec.kind == "layers":
        layers = spec.layers if spec.layers is not None else every_kth(num_layers(teacher), spec.every_k)
        return layer_subset_student(teacher, layers, where=f"{where}.layers"), None
    if spec.kind == "tinybert":
        if spec.num_layers > num_layers(teacher):
            raise ConfigError(f"{where}.num_layers: {spec.num_layers} is more than the teacher's {num_layers(teacher)}")
        return tinybert_student(teacher, spec.num_layers, spec.hidden_size, spec.intermediate_size,
                                spec.num_attention_heads, spec.embedding_init, where), None
    from hfcompress.training.train import build_model

    return build_model(spec.model, task)


def selected_layers(spec: StudentConfig, teacher) -> Optional[list[int]]:
    if spec.kind != "layers":
        return None
    return spec.layers if spec.layers is not None else every_kth(num_layers(teacher), spec.every_k)

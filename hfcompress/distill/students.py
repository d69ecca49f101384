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
from hfcompress.models.families import maybe_adapter


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


def teacher_depth(teacher: torch.nn.Module) -> int:
    """Layers the teacher runs (ALBERT: its depth, though one layer's weights serve all; a staged
    convolutional network: its blocks, numbered across stages)."""
    adapter = maybe_adapter(teacher)
    if adapter is None:
        return num_layers(teacher)
    if adapter.staged:
        return len(adapter.layers(teacher))
    return adapter.depth(teacher.config)


def default_layers(teacher: torch.nn.Module, k: int) -> list[int]:
    """The layers a ``layers`` student keeps by default (``every_k``)."""
    adapter = maybe_adapter(teacher)
    n = teacher_depth(teacher)
    if adapter is not None and adapter.staged:  # the first ceil(n/k) blocks of each stage
        out, start = [], 0
        for depth in teacher.config.depths:
            out += list(range(start, start + max(1, -(-depth // k))))
            start += depth
        return out
    if adapter is not None and adapter.keeps_first_layer:
        return list(range(0, n, k))
    return every_kth(n, k)


def _strip_record(model: torch.nn.Module) -> None:
    if hasattr(model.config, RECORD_KEY):  # the teacher's compression record is not the student's
        delattr(model.config, RECORD_KEY)


def layer_subset_student(teacher: torch.nn.Module, layers: Sequence[int], where: str = "student.layers"):
    """DistilBERT-style: the teacher's architecture with only ``layers``, their weights and everything
    else (embeddings, pooler, classifier) copied from the teacher. For a staged convolutional network
    (ResNet, ConvNeXt) ``layers`` numbers the blocks across stages, and each stage keeps at least one."""
    from hfcompress.errors import HfCompressError
    from hfcompress.prune.layers import drop_units

    n_teacher = teacher_depth(teacher)
    adapter = maybe_adapter(teacher)
    kind = "blocks" if adapter is not None and adapter.staged else "layers"
    bad = [l for l in layers if not 0 <= l < n_teacher]
    if bad or not layers:
        raise ConfigError(f"{where}: teacher layer(s) {bad or layers} do not exist (teacher has {n_teacher} {kind}"
                          + (", running one shared layer's weights" if adapter is not None and adapter.shared_layers
                             else "") + ")")
    student = copy.deepcopy(teacher)
    _strip_record(student)
    if adapter is not None and adapter.shared_layers:  # ALBERT: run the shared layer fewer times
        adapter.set_depth(student.config, list(layers))
        return student
    if adapter is not None and adapter.keeps_first_layer and 0 not in layers:
        raise ConfigError(f"{where}: {adapter.name}'s first layer has no attention norm of its own (the embeddings' "
                          "norm serves), so a student keeps teacher layer 0; got {list(layers)}")
    if adapter is None:
        return _state_copy_student(teacher, layers)
    drop = [i for i in range(n_teacher) if i not in set(layers)]
    try:
        if drop:
            drop_units(student, drop)
    except HfCompressError as exc:
        raise ConfigError(f"{where}: {str(exc).split(': ', 1)[-1]}") from None
    return student


def _state_copy_student(teacher, layers):
    """A family without an adapter: a fresh model of fewer layers, the kept layers' weights copied."""
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

    For a staged convolutional network (ResNet, ConvNeXt) ``num_layers`` caps the blocks per stage and
    ``hidden_size`` is the first stage's width (the others scale with it); the student must be
    shallower or narrower than the teacher.
    ``embedding_init='teacher_svd'`` starts the word/position/type embeddings from the teacher's,
    projected onto the top ``hidden_size`` right-singular directions of the teacher's word
    embedding matrix: a cheap stand-in for TinyBERT's general (pre-training) distillation.
    """
    adapter = maybe_adapter(teacher)
    tc = teacher.config
    if adapter is not None and adapter.staged:
        width = hidden_size or tc.hidden_sizes[0]
        if width >= tc.hidden_sizes[0] and all(d <= num_layers_ for d in tc.depths):
            raise ConfigError(f"{where}: a tinybert student of this {adapter.name} (depths {list(tc.depths)}, widths "
                              f"{list(tc.hidden_sizes)}) would be as large as the teacher; give hidden_size (first "
                              f"stage width, < {tc.hidden_sizes[0]}) or num_layers (blocks per stage, < "
                              f"{max(tc.depths)})")
        config = _fresh_config(teacher)
        adapter.student_config(config, width, 0, 0, num_layers_)
        return type(teacher)(config)
    hkey, nkey = (adapter.hidden_key, adapter.heads_key) if adapter else ("hidden_size", "num_attention_heads")
    hidden = hidden_size or getattr(tc, hkey)
    heads = num_attention_heads or getattr(tc, nkey)
    if hidden % heads:
        raise ConfigError(f"{where}.hidden_size: {hidden} is not divisible by num_attention_heads {heads}")
    config = _fresh_config(teacher)
    if adapter is not None:
        adapter.student_config(config, hidden, heads, intermediate_size or 4 * hidden, num_layers_)
    else:
        for key, value in dict(num_hidden_layers=num_layers_, hidden_size=hidden,
                               intermediate_size=intermediate_size or 4 * hidden, num_attention_heads=heads).items():
            setattr(config, key, value)
        if hasattr(config, "head_dim"):
            config.head_dim = hidden // heads
    student = type(teacher)(config)
    if embedding_init == "teacher_svd":
        _svd_embeddings(teacher, student, hidden)
    return student


@torch.no_grad()
def _svd_embeddings(teacher, student, width: int) -> None:
    t_emb, s_emb = teacher.base_model.embeddings, student.base_model.embeddings
    words = teacher.get_input_embeddings().weight.float()
    _, _, vh = torch.linalg.svd(words - words.mean(0), full_matrices=False)
    proj = vh[:width].T  # (teacher width, student width)
    for name in ("word_embeddings", "tok_embeddings", "position_embeddings", "token_type_embeddings"):
        src, dst = getattr(t_emb, name, None), getattr(s_emb, name, None)
        if src is not None and dst is not None and src.weight.shape[1] == words.shape[1] \
                and dst.weight.shape[1] == width:
            dst.weight.copy_(src.weight.float() @ proj)


def build_student(spec: StudentConfig, teacher: torch.nn.Module, task, where: str = "distill.student"):
    """The student model and, for ``kind: model``, its own preprocessor (else None: the teacher's)."""
    if spec.kind == "layers":
        layers = spec.layers if spec.layers is not None else default_layers(teacher, spec.every_k)
        return layer_subset_student(teacher, layers, where=f"{where}.layers"), None
    if spec.kind == "tinybert":
        depth = max(teacher.config.depths) if getattr(maybe_adapter(teacher), "staged", False) else teacher_depth(teacher)
        if spec.num_layers > depth:
            raise ConfigError(f"{where}.num_layers: {spec.num_layers} is more than the teacher's {depth}")
        return tinybert_student(teacher, spec.num_layers, spec.hidden_size, spec.intermediate_size,
                                spec.num_attention_heads, spec.embedding_init, where), None
    from hfcompress.training.train import build_model

    return build_model(spec.model, task)


def selected_layers(spec: StudentConfig, teacher) -> Optional[list[int]]:
    if spec.kind != "layers":
        return None
    return spec.layers if spec.layers is not None else default_layers(teacher, spec.every_k)

"""The distill / prune / quantize runners for embedding models (the run contract of
:mod:`hfcompress.methods.contract`), chosen by :mod:`hfcompress.embeddings.kind` through the registry.

Each reuses its family's own pieces on the headless encoder — the layer-subset student of
``distill``, the pruning strategies of ``prune``, the quantization backends and ONNX pieces of
``quantize`` — and differs only where an embedding model differs: the distillation loss is on the
pooled embeddings (MSE + cosine distance to the teacher's), pruning methods that score units by a
task loss are refused (an embedding model has no task loss; give the units), and every output is a
sentence-transformers folder (:func:`hfcompress.embeddings.model.publish`).
"""

from __future__ import annotations

import copy
import tempfile
import time
from pathlib import Path
from typing import Optional

import torch

from hfcompress.embeddings.model import EmbeddingModelError, pool, publish, st_module_type
from hfcompress.embeddings.task import SimilarityTask
from hfcompress.methods.contract import RunResult

# quantize methods that apply to an embedding model's encoder; the others are refused with their reason
QUANTIZE_METHODS = ("onnx-fp32", "onnx-dynamic", "onnx-static", "torch-dynamic")
QUANTIZE_REFUSED = {
    "auto": "measures candidates by a classifier's accuracy; name the method (onnx-dynamic is the fast one here)",
    "torch-static": "FX static INT8 applies to ResNet image classifiers",
    "qat": "quantization-aware training fine-tunes on a task loss, which an embedding model has not",
    "bnb-8bit": "bitsandbytes folders reload through transformers' quantizer, not sentence-transformers' Transformer",
    "bnb-4bit": "bitsandbytes folders reload through transformers' quantizer, not sentence-transformers' Transformer",
    "fp16": "half-precision embedding folders are not written yet; use onnx-dynamic or torch-dynamic",
    "bf16": "half-precision embedding folders are not written yet; use onnx-dynamic or torch-dynamic",
}


class EmbeddingRunResult(RunResult):
    def load(self, task=None):
        """The saved embedding model, read back through hfcompress's loader (scored as a similarity model)."""
        from hfcompress.hub.load import load

        return load(self.output_dir, task=SimilarityTask(task) if task is not None else None)


def _load_float(source, model, role: str):
    """The input embedding model (loaded ``model``, or the folder ``source``): a float PyTorch encoder."""
    from hfcompress.embeddings.loader import EmbeddingLoaded
    from hfcompress.hub.load import load

    loaded = model if model is not None else load(source)
    if not isinstance(loaded, EmbeddingLoaded):
        raise EmbeddingModelError(f"{role}: {source} is not a sentence-transformers embedding model")
    if loaded.runtime != "pytorch":
        raise EmbeddingModelError(f"{role}: {source} is loaded by {loaded.runtime!r}, not a float PyTorch encoder; "
                                  "compress the float model it came from")
    return loaded


def _similarity(cfg_task, mirror) -> SimilarityTask:
    from hfcompress.tasks import get_task

    return SimilarityTask(get_task(cfg_task, mirror=mirror))


def _start(cfg, source: str, model, overwrite: bool) -> SimilarityTask:
    """What every training or pruning run does first: the output folder checked, threads and seed set, the task."""
    from transformers import set_seed

    from hfcompress.evaluation.efficiency import set_threads
    from hfcompress.hub.save import check_output_dir, folder_of

    check_output_dir(cfg.output_dir, inputs=[source, folder_of(model)], overwrite=overwrite)
    set_threads(cfg.threads)
    set_seed(cfg.seed)
    return _similarity(cfg.task, cfg.datasets_mirror)


def _card(record, task, title: str) -> str:
    from hfcompress.hub.card import model_card

    return model_card(record, task.base, title=title)


def _publish(loaded, output_dir, save, record, overwrite, runtime: str = "pytorch") -> None:
    publish(output_dir, save, loaded.layout, int(loaded.config.hidden_size), st_module_type(record, runtime),
            overwrite=overwrite or None)


# ---------------------------------------------------------------------------------------------
# train: the original checkpoint is the encoder a head is fine-tuned on; a compressed embedding model is not
# ---------------------------------------------------------------------------------------------
def train(cfg, *, model=None, resume: bool = False, overwrite: bool = False, callbacks: Optional[list] = None):
    from hfcompress.embeddings.kind import _written_by_hfcompress
    from hfcompress.methods.registry import runner

    folder = getattr(model, "path", None) or Path(cfg.model)
    if model is not None or _written_by_hfcompress(Path(folder)):
        raise EmbeddingModelError(f"train: {folder} is a compressed embedding model; hfcompress fine-tunes a task head "
                                  "(a cross-encoder for stsb) on the original checkpoint, not on a compressed one")
    return runner("train")(cfg, model=model, resume=resume, overwrite=overwrite, callbacks=callbacks)


# ---------------------------------------------------------------------------------------------
# distill: a layer-subset student trained on the teacher's embeddings
# ---------------------------------------------------------------------------------------------
def _default_losses() -> list[dict]:
    from hfcompress.distill.config import DistillConfig

    return [l.to_dict() for l in DistillConfig.__dataclass_fields__["losses"].default_factory()]


def _embedding_trainer():
    from transformers import Trainer

    class EmbeddingDistillationTrainer(Trainer):
        """A ``transformers.Trainer`` whose loss is MSE + cosine distance between the student's pooled
        embeddings and the frozen teacher's, on the same tokenised sentences."""

        def __init__(self, *args, teacher=None, layout=None, **kwargs):
            super().__init__(*args, **kwargs)
            self.teacher, self.layout = teacher, layout
            self.terms: dict[str, list[float]] = {"mse": [], "cosine": []}

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            from hfcompress.embeddings.model import token_embeddings

            mask = inputs["attention_mask"]
            with torch.no_grad():
                target = pool(token_embeddings(self.teacher, inputs), mask, self.layout)
            pred = pool(token_embeddings(model, inputs), mask, self.layout)
            mse = torch.nn.functional.mse_loss(pred, target)
            cosine = (1 - torch.nn.functional.cosine_similarity(pred, target)).mean()
            self.terms["mse"].append(float(mse.detach()))
            self.terms["cosine"].append(float(cosine.detach()))
            loss = mse + cosine
            return (loss, pred) if return_outputs else loss

    return EmbeddingDistillationTrainer


def distill(cfg, *, model=None, resume: bool = False, overwrite: bool = False, callbacks: Optional[list] = None):
    """Distil the embedding model ``cfg.teacher`` into a ``layers`` student on the task's training sentences."""
    from datasets import Dataset
    from transformers import DataCollatorWithPadding

    from hfcompress.distill.features import num_layers
    from hfcompress.distill.students import build_student, selected_layers
    from hfcompress.hub.record import CompressionRecord
    from hfcompress.hub.save import save_compressed
    from hfcompress.training.train import fit

    if resume:
        raise EmbeddingModelError("distill: --resume does not apply to an embedding model (its distillation keeps "
                                  "no checkpoints); run it again")
    if cfg.student.kind != "layers":
        raise EmbeddingModelError(f"distill.student.kind: {cfg.student.kind!r} does not apply to an embedding model: "
                                  "its embeddings are matched to the teacher's, so the student keeps the teacher's "
                                  "width; use kind: layers")
    if [l.to_dict() for l in cfg.losses] != _default_losses() or cfg.alpha is not None or cfg.offline_teacher:
        raise EmbeddingModelError("distill.losses: an embedding model is distilled on its embeddings (MSE + cosine "
                                  "distance to the teacher's); remove losses / alpha / offline_teacher")
    task = _start(cfg, cfg.teacher, model, overwrite)
    teacher = _load_float(cfg.teacher, model, "distill.teacher")
    student, _ = build_student(cfg.student, teacher.model, task.base)
    texts = task.texts(task.train_split, limit=cfg.max_train_samples, mirror=cfg.datasets_mirror, seed=cfg.seed)
    tokenizer = teacher.preprocessor
    data = Dataset.from_dict({"text": texts}).map(
        lambda b: tokenizer(b["text"], truncation=True, max_length=min(cfg.max_length, teacher.max_length)),
        batched=True, remove_columns=["text"], load_from_cache_file=False)
    frozen = teacher.model.eval()
    for p in frozen.parameters():
        p.requires_grad_(False)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hfcompress-st-distill-") as tmp:
        trainer, out = fit(student.train(), task, tokenizer, cfg, tmp, data, trainer_class=_embedding_trainer(),
                           collator=DataCollatorWithPadding(tokenizer), callbacks=callbacks,
                           args_overrides={"save_strategy": "no", "remove_unused_columns": False},
                           teacher=frozen, layout=teacher.layout)
        terms = {k: round(sum(v) / len(v), 6) for k, v in trainer.terms.items() if v}
        trainer.teacher = None
        del trainer
    seconds = time.perf_counter() - start
    student = student.cpu().eval()
    record = CompressionRecord(base_model=cfg.teacher, task=task.describe()).with_stage(
        "distill", params=cfg.to_dict(),
        result={"teacher": cfg.teacher, "teacher_layers": num_layers(teacher.model), "student_layers": num_layers(student),
                "student_kind": "layers", "teacher_layers_kept": selected_layers(cfg.student, teacher.model),
                "losses": [{"name": "embedding_mse", "weight": 1.0}, {"name": "embedding_cosine", "weight": 1.0}],
                "loss_terms": terms, "embedding_model": True, "train_sentences": len(texts),
                "train_loss": out.training_loss, "global_step": out.global_step, "train_seconds": round(seconds, 2)})
    card = _card(record, task, f"{Path(cfg.output_dir).name} ({task.name}, distilled embedding model)")
    _publish(teacher, cfg.output_dir, lambda d: save_compressed(student, d, record, tokenizer, card=card),
             record, overwrite)
    summary = {"train_loss": out.training_loss, "global_step": out.global_step, "train_seconds": seconds,
               "train_sentences": len(texts), "loss_terms": terms, "saved": True}
    return EmbeddingRunResult(Path(cfg.output_dir), record.stages[-1], summary)


# ---------------------------------------------------------------------------------------------
# prune: the family's strategies on the encoder
# ---------------------------------------------------------------------------------------------
def prune(cfg, *, model=None, resume: bool = False, overwrite: bool = False, callbacks: Optional[list] = None):
    """Prune an embedding model's encoder (drop_layers with ``drop``, vocab, heads/ffn by magnitude or
    given units, unstructured); saved as a sentence-transformers folder."""
    from hfcompress.hub.record import CompressionRecord
    from hfcompress.prune.api import check_request, needs_data, prune_in_memory, save_pruned, stage_name

    if resume:
        raise EmbeddingModelError("prune: --resume does not apply (pruning keeps no checkpoints); run it again")
    if needs_data(cfg):
        how = {"drop_layers": "give the layers (drop: [0, 2])", "heads": "give importance: magnitude or layers:",
               "ffn": "give importance: magnitude"}.get(cfg.method, "choose units without data")
        raise EmbeddingModelError(f"prune.importance: {cfg.method} of an embedding model cannot score units on a task "
                                  f"loss (it has none): {how}")
    if cfg.finetune_epochs > 0:
        raise EmbeddingModelError("prune.finetune_epochs: an embedding model is recovered by distillation on its "
                                  "embeddings: run hfcompress distill after pruning (finetune_epochs: 0 here)")
    task = _start(cfg, cfg.model, model, overwrite)
    loaded = _load_float(cfg.model, model, "prune.model")
    net = loaded.model if model is None else copy.deepcopy(loaded.model)  # a caller's model stays as it was
    net.eval()
    record = loaded.record or CompressionRecord(base_model=cfg.model, task=task.describe())
    check_request(net, cfg)
    if cfg.method == "drop_layers":
        from hfcompress.prune.layers import check_history

        check_history(record)
    # vocabulary pruning keeps the tokens of the task's training text (both sentences of each pair)
    tokenizer, result = prune_in_memory(net, cfg, None, task=task.base, preprocessor=loaded.preprocessor)
    result["embedding_model"] = True
    record = record.with_stage(stage_name(cfg), params=cfg.to_dict(), result=result)
    card = _card(record, task, f"{Path(cfg.output_dir).name} ({task.name}, pruned embedding model: {cfg.method})")
    _publish(loaded, cfg.output_dir, lambda d: save_pruned(net, d, record, tokenizer, card=card), record, overwrite)
    brief = {k: v for k, v in result.items() if k not in ("module_shapes", "pruned_tensors", "kept_heads")}
    return EmbeddingRunResult(Path(cfg.output_dir), record.stages[-1], {"method": cfg.method, "result": brief})


# ---------------------------------------------------------------------------------------------
# quantize: ONNX Runtime graphs of the encoder, or PyTorch dynamic INT8
# ---------------------------------------------------------------------------------------------
def quantize(cfg, *, model=None, resume: bool = False, overwrite: bool = False, callbacks: Optional[list] = None):
    from hfcompress.evaluation.efficiency import set_threads
    from hfcompress.hub.record import CompressionRecord
    from hfcompress.hub.save import check_output_dir, folder_of, save_compressed

    if resume:
        raise EmbeddingModelError("quantize: --resume does not apply (quantization keeps no checkpoints)")
    if cfg.method in QUANTIZE_REFUSED:
        raise EmbeddingModelError(f"quantize.method: {cfg.method!r} on an embedding model: {QUANTIZE_REFUSED[cfg.method]}")
    check_output_dir(cfg.output_dir, inputs=[cfg.model, folder_of(model)], overwrite=overwrite)
    task = _similarity(cfg.task, cfg.datasets_mirror)
    from hfcompress.methods.registry import variant_impl

    impl = variant_impl("quantize", cfg.method)
    impl.require()
    set_threads(cfg.threads)
    loaded = _load_float(cfg.model, model, "quantize.model")
    if loaded.record is not None and "quantize" in loaded.record.methods:
        raise EmbeddingModelError(f"quantize.model: {cfg.model} is already quantized; quantize the float model")
    base = loaded.record or CompressionRecord(base_model=cfg.model, task=task.describe())
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hfcompress-st-quantize-") as work:
        if cfg.method.startswith("onnx-"):
            from hfcompress.embeddings.onnx import quantize_embedding_onnx

            out = Path(work) / "onnx"
            out.mkdir()
            result = quantize_embedding_onnx(loaded, task.base, cfg, out)
            config, model_out, writer, runtime = copy.deepcopy(loaded.config), None, _copy_files(out), "onnx"
        else:  # torch-dynamic: the backend's own conversion and INT8 safetensors writer
            net = copy.deepcopy(loaded.model) if model is not None else loaded.model
            q = impl.quantize(_with_model(loaded, net), task.base, cfg, Path(work), callbacks=callbacks)
            result, config, model_out, writer, runtime = q.result, q.config, q.model, q.write_weights, "torch-int8"
        result["seconds"] = round(time.perf_counter() - start, 2)
        result["embedding_model"] = True
        record = base.with_stage("quantize", cfg.to_dict(), result)
        card = _card(record, task, f"{Path(cfg.output_dir).name} ({task.name}, quantized embedding model: {cfg.method})")
        _publish(loaded, cfg.output_dir, lambda d: save_compressed(model_out, d, record, loaded.preprocessor, card=card,
                                                                   config=config, write_weights=writer),
                 record, overwrite, runtime=runtime)
    return EmbeddingRunResult(Path(cfg.output_dir), record.stages[-1], {"method": cfg.method, **result})


def _copy_files(src: Path):
    import shutil

    def write(folder: Path) -> None:
        for entry in src.iterdir():
            shutil.copy2(entry, folder / entry.name)

    return write


def _with_model(loaded, net):
    import dataclasses

    return dataclasses.replace(loaded, model=net)

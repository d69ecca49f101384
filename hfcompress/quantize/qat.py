"""Quantization-aware training: insert fake quantization, fine-tune with the Trainer, convert to INT8.

The training path is the one ``hfcompress train`` uses (``training_arguments`` defaults, the
task's data, collator and metric, a plain ``transformers.Trainer``); what changes is the model
it is given and the :class:`QATFreezeCallback`:

- BERT family: every ``nn.Linear`` becomes ``torch.ao.nn.qat.Linear`` (weights fake-quantized
  per tensor, symmetric int8: the same scheme :func:`quantize_dynamic_linear` uses), swapped in
  place so the Parameters and the model stay the same objects. After training the QAT Linears
  go back to float and are converted with dynamic quantization, so the result loads exactly like
  ``torch-dynamic``.
- ResNet: ``prepare_qat_fx`` on the traceable ResNet (conv+bn+relu fused, weights and activations
  fake-quantized), trained through :class:`QuantizedImageClassifier` (which gives the Trainer a
  loss), then ``convert_fx``: the result loads like ``torch-static``.

The callback freezes batch-norm statistics and observer ranges for the last part of training,
the standard QAT schedule: the network then adapts to fixed quantization grids.
"""

from __future__ import annotations

import tempfile
from typing import Any

import torch
from torch import nn
from transformers import TrainerCallback

from hfcompress.quantize import torch_int8
from hfcompress.quantize.config import QuantizeConfig


class QATFreezeCallback(TrainerCallback):
    """After ``freeze_fraction`` of the steps: stop observers (and, for fused conv-bn, BN statistics)."""

    def __init__(self, freeze_fraction: float = 0.6):
        self.freeze_fraction = freeze_fraction
        self.frozen_at: int | None = None

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if self.frozen_at is None and model is not None and state.max_steps and \
                state.global_step >= self.freeze_fraction * state.max_steps:
            import torch.ao.nn.intrinsic.qat as nniqat

            model.apply(torch.ao.quantization.disable_observer)
            model.apply(nniqat.freeze_bn_stats)
            self.frozen_at = state.global_step
        return control


def prepare_linear_qat(model: nn.Module, per_channel: bool = False) -> nn.Module:
    """Swap every nn.Linear for a weight-fake-quantized QAT Linear, in place (same Parameters)."""
    import torch.ao.nn.qat as nnqat
    from torch.ao.quantization import QConfig, default_per_channel_weight_fake_quant, default_weight_fake_quant
    from torch.ao.quantization.observer import PlaceholderObserver

    # activations stay float during training: dynamic INT8 quantizes them per batch at inference
    qconfig = QConfig(activation=PlaceholderObserver.with_args(dtype=torch.float),
                      weight=default_per_channel_weight_fake_quant if per_channel else default_weight_fake_quant)
    with torch_int8.quiet():
        for parent in list(model.modules()):
            for name, child in list(parent.named_children()):
                if type(child) is nn.Linear:
                    child.qconfig = qconfig
                    setattr(parent, name, nnqat.Linear.from_float(child))
    return model


def convert_linear_qat(model: nn.Module, per_channel: bool = False) -> nn.Module:
    import torch.ao.nn.qat as nnqat

    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nnqat.Linear):
                setattr(parent, name, child.to_float())
    return torch_int8.quantize_dynamic_linear(model, per_channel=per_channel)


def quantization_aware_training(loaded, task, cfg: QuantizeConfig, callbacks=None) -> tuple[nn.Module, dict[str, Any]]:
    """Fine-tune ``loaded.model`` with fake quantization on ``task``; return the INT8 model and the stage result."""
    from hfcompress.config import TrainConfig
    from hfcompress.tasks.batches import preprocessed
    from hfcompress.training.train import fit

    torch.manual_seed(cfg.seed)
    torch_int8.set_engine()
    per_channel = bool(cfg.per_channel)
    if task.modality == "image":
        torch_int8.check_resnet(loaded.model)
        model = torch_int8.QuantizedImageClassifier(torch_int8.prepare_static(loaded.model, qat=True), loaded.config)
    else:
        model = prepare_linear_qat(loaded.model, per_channel)
    model.train()

    train_cfg = TrainConfig(task=task.describe(), model=cfg.model, output_dir=cfg.output_dir, epochs=cfg.epochs,
                            learning_rate=cfg.learning_rate, batch_size=cfg.batch_size, seed=cfg.seed,
                            max_train_samples=cfg.max_train_samples, max_length=cfg.max_length,
                            datasets_mirror=cfg.datasets_mirror, threads=cfg.threads)
    data = preprocessed(task, task.train_split, loaded.preprocessor, limit=cfg.max_train_samples,
                        mirror=cfg.datasets_mirror, seed=cfg.seed, max_length=cfg.max_length, train=True)
    callback = QATFreezeCallback()
    with tempfile.TemporaryDirectory(prefix="hfcompress-qat-") as work, torch_int8.quiet():
        _, out = fit(model, task, loaded.preprocessor, train_cfg, work, data, callbacks=[callback, *(callbacks or [])],
                     args_overrides={"save_strategy": "no", "warmup_steps": 0})

    model.eval()
    if task.modality == "image":
        quantized = torch_int8.convert_static(model.core, loaded.config)
        result = {"backend": "torch", "scheme": "fx-static", "flow": "qat", "engine": torch_int8.ENGINE}
    else:
        quantized = convert_linear_qat(model, per_channel)
        result = {"backend": "torch", "scheme": "dynamic", "flow": "qat", "per_channel": per_channel,
                  "engine": torch_int8.ENGINE}
    result.update({"train_loss": out.training_loss, "global_step": out.global_step,
                   "train_examples": len(data), "frozen_at_step": callback.frozen_at})
    return quantized, result

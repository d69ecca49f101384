"""Fine-tuning with a plain transformers.Trainer (teachers, recovery fine-tuning)."""

from hfcompress.training.train import build_model, train, training_arguments

__all__ = ["build_model", "train", "training_arguments"]

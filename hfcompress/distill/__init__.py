"""Knowledge distillation: a Trainer subclass, loss terms, student builders, recipes.

    from hfcompress.distill import DistillConfig, distill
    distill(DistillConfig.from_dict({...}))
"""

from hfcompress.distill.config import DistillConfig, LossConfig, StudentConfig
from hfcompress.distill.distiller import Distiller, build_distiller, uniform_layer_map
from hfcompress.distill.trainer import DistillationTrainer, DistillationTrainingArguments


def distill(*args, **kwargs):
    """See :func:`hfcompress.distill.api.distill` (imported lazily: it pulls in evaluation)."""
    from hfcompress.distill.api import distill as _distill

    return _distill(*args, **kwargs)


__all__ = ["DistillConfig", "DistillationTrainer", "DistillationTrainingArguments", "Distiller", "LossConfig",
           "StudentConfig", "build_distiller", "distill", "uniform_layer_map"]

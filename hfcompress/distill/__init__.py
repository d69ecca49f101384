"""Knowledge distillation: a Trainer subclass, loss terms, student builders, recipes.

    from hfcompress.distill import DistillConfig, distill
    distill(DistillConfig.from_dict({...}))

Imported lazily (reading the config does not import torch or transformers).
"""

from hfcompress.distill.config import DistillConfig, LossConfig, StudentConfig

_LAZY = {
    "Distiller": "hfcompress.distill.distiller",
    "build_distiller": "hfcompress.distill.distiller",
    "uniform_layer_map": "hfcompress.distill.distiller",
    "DistillationTrainer": "hfcompress.distill.trainer",
    "DistillationTrainingArguments": "hfcompress.distill.trainer",
    "distill": "hfcompress.distill.api",
}

__all__ = ["DistillConfig", "LossConfig", "StudentConfig", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)


from hfcompress.methods.contract import callable_family  # noqa: E402

callable_family(__name__, "distill")  # hfcompress.distill(cfg) runs the distill runner

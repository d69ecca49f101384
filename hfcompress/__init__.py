"""hfcompress: distil, prune and quantize Hugging Face models, then measure what you ship.

The public surface is small and lazily imported (so ``hfcompress --help`` is fast):

- ``hfcompress.load(name_or_path, task=None)`` -> :class:`hfcompress.hub.LoadedModel`
- ``hfcompress.AutoCompressedModel.from_pretrained(name_or_path)`` -> the model
- ``hfcompress.get_task(name)`` -> :class:`hfcompress.tasks.Task`
- ``hfcompress.evaluate_model(EvalConfig(...))`` -> evaluation record (dict)
- ``hfcompress.train(TrainConfig(...))`` -> final metrics
"""

__version__ = "0.1.0"

_LAZY = {
    "load": ("hfcompress.hub", "load"),
    "AutoCompressedModel": ("hfcompress.hub", "AutoCompressedModel"),
    "CompressionRecord": ("hfcompress.hub", "CompressionRecord"),
    "save_compressed": ("hfcompress.hub", "save_compressed"),
    "get_task": ("hfcompress.tasks", "get_task"),
    "evaluate_model": ("hfcompress.evaluation", "evaluate_model"),
    "train": ("hfcompress.training", "train"),
    "TrainConfig": ("hfcompress.config", "TrainConfig"),
    "EvalConfig": ("hfcompress.config", "EvalConfig"),
    "load_recipe": ("hfcompress.config", "load_recipe"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'hfcompress' has no attribute {name!r}")

"""hfcompress: distil, prune and quantize Hugging Face models, then measure what you ship.

The public surface is small and lazily imported (so ``hfcompress --help`` is fast):

- ``hfcompress.compress(model_or_path, config, task=...)`` -> the compressed model (:class:`LoadedModel`)
- ``hfcompress.train / distill / prune / quantize(cfg)`` -> :class:`hfcompress.methods.RunResult`
- ``hfcompress.run_pipeline(PipelineConfig)`` -> every stage's evaluation record
- ``hfcompress.load(name_or_path, task=None)`` -> :class:`hfcompress.hub.LoadedModel`
- ``hfcompress.AutoCompressedModel.from_pretrained(name_or_path)`` -> the model
- ``hfcompress.get_task(name)`` -> :class:`hfcompress.tasks.Task`
- ``hfcompress.evaluate_model(EvalConfig(...))`` -> evaluation record (dict)
"""

__version__ = "0.1.0"

_LAZY = {
    "compress": ("hfcompress.api", "compress"),
    "run_method": ("hfcompress.api", "run_method"),
    "train": ("hfcompress.api", "train"),
    "distill": ("hfcompress.distill", None),  # the package, callable as its runner
    "prune": ("hfcompress.prune", None),
    "quantize": ("hfcompress.quantize", None),
    "run_pipeline": ("hfcompress.api", "run_pipeline"),
    "load": ("hfcompress.hub", "load"),
    "LoadedModel": ("hfcompress.hub", "LoadedModel"),
    "AutoCompressedModel": ("hfcompress.hub", "AutoCompressedModel"),
    "CompressionRecord": ("hfcompress.hub", "CompressionRecord"),
    "save_compressed": ("hfcompress.hub", "save_compressed"),
    "get_task": ("hfcompress.tasks", "get_task"),
    "evaluate_model": ("hfcompress.evaluation", "evaluate_model"),
    "TrainConfig": ("hfcompress.config", "TrainConfig"),
    "EvalConfig": ("hfcompress.config", "EvalConfig"),
    "DistillConfig": ("hfcompress.distill.config", "DistillConfig"),
    "PruneConfig": ("hfcompress.prune.config", "PruneConfig"),
    "QuantizeConfig": ("hfcompress.quantize.config", "QuantizeConfig"),
    "PipelineConfig": ("hfcompress.pipeline.run", "PipelineConfig"),
    "load_recipe": ("hfcompress.config", "load_recipe"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        loaded = importlib.import_module(module)
        return loaded if attr is None else getattr(loaded, attr)
    raise AttributeError(f"module 'hfcompress' has no attribute {name!r}")

"""The public Python API: what the CLI does on files, on models you hold.

    import hfcompress
    teacher = hfcompress.load("out/teacher-sst2", task="sst2")
    student = hfcompress.compress(teacher, [
        {"distill": {"student": {"kind": "layers", "every_k": 2}, "epochs": 1}},
        {"prune": {"method": "vocab"}},
        {"quantize": {"method": "torch-dynamic"}},
    ], output_dir="out/small")
    student.predict(batch)          # a LoadedModel; student.path is its folder

Each stage runs its method's runner (the run contract of :mod:`hfcompress.methods.contract`) on the
model the previous stage produced, in memory; every stage's output is a saved, reloadable folder.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Optional, Sequence, Union

from hfcompress.errors import ConfigError
from hfcompress.hub.load import LoadedModel
from hfcompress.methods.contract import RunResult


def run_method(name: str, cfg, *, model: Optional[LoadedModel] = None, resume: bool = False,
               overwrite: bool = False, callbacks: Optional[list] = None) -> RunResult:
    """Run family ``name``'s runner on its config (and, optionally, a loaded input model); a model kind
    (an embedding model) that claims the input runs its own runner (``registry.runner_for``)."""
    from hfcompress.methods.registry import runner_for

    return runner_for(name, cfg, model)(cfg, model=model, resume=resume, overwrite=overwrite, callbacks=callbacks)


def _stages(config) -> list[tuple[str, Any]]:
    """(family, config or mapping) pairs from a config object, a {family: {...}} mapping, or a list of them."""
    from hfcompress.methods.registry import FAMILIES, family_of_config

    items = list(config) if isinstance(config, (list, tuple)) else [config]
    out = []
    for i, item in enumerate(items):
        if isinstance(item, dict):
            if len(item) != 1 or next(iter(item)) not in FAMILIES:
                raise ConfigError(f"compress: stage {i}: expected one of {', '.join(FAMILIES)} as the only key, "
                                  f"got {list(item)}")
            out.append(next(iter(item.items())))
        else:
            out.append((family_of_config(item), item))
    if not out:
        raise ConfigError("compress: no stage given")
    return out


def _as_loaded(model, preprocessor=None, task=None) -> Union[LoadedModel, str]:
    """A path / Hub id stays a name (the runner loads it); an in-memory model becomes a LoadedModel."""
    if isinstance(model, (str, Path)) or isinstance(model, LoadedModel):
        return str(model) if isinstance(model, Path) else model
    from hfcompress.hub.record import CompressionRecord

    config = getattr(model, "config", None)
    if config is None:
        raise ConfigError(f"compress: expected a model folder, Hub id, LoadedModel or transformers model, got "
                          f"{type(model).__name__}")
    if preprocessor is None and task is not None:
        raise ConfigError("compress: an in-memory model needs its preprocessor (compress(..., preprocessor=tok))")
    return LoadedModel(model=model, config=config, path=Path(getattr(config, "_name_or_path", "") or "."),
                       source=getattr(config, "_name_or_path", "") or "<in-memory model>", loader="pytorch",
                       record=CompressionRecord.from_model_config(config), preprocessor=preprocessor)


def compress(model, config, task: Optional[Union[str, Any]] = None, output_dir: Optional[Union[str, Path]] = None,
             *, preprocessor=None, overwrite: bool = False, callbacks: Optional[list] = None) -> LoadedModel:
    """Compress ``model`` (a folder, Hub id, :class:`LoadedModel` or transformers model) with ``config``.

    ``config``: one method config (``PruneConfig(...)``), a mapping ``{"prune": {...}}`` whose fields are
    those of that method's recipe section, or a list of them (run in order, each on the previous output).
    ``task``: a task name (or task object); default: the one in the model's compression record.
    ``output_dir``: where the (last) model is saved; with several stages each goes to ``output_dir/NN-<method>``;
    default: a new temporary folder. Returns the final model, loaded.
    """
    from hfcompress.methods.registry import config_class, family
    from hfcompress.tasks import get_task

    stages = _stages(config)
    current = _as_loaded(model, preprocessor, task)
    task_name = task.describe() if hasattr(task, "describe") else task  # a Task: its name or its data
    if task_name is None and isinstance(current, LoadedModel) and current.record is not None:
        task_name = current.record.task
    if task_name is None:
        first = stages[0][1]
        task_name = first.get("task") if isinstance(first, dict) else getattr(first, "task", None)
    if task_name is None:
        raise ConfigError("compress: give task= (the model's record names none)")
    root = Path(output_dir) if output_dir is not None else Path(tempfile.mkdtemp(prefix="hfcompress-"))
    task_obj = get_task(task_name)
    for i, (name, body) in enumerate(stages, start=1):
        fam = family(name)
        out = root if len(stages) == 1 else root / f"{i:02d}-{name}"
        data = body.to_dict() if hasattr(body, "to_dict") else dict(body)
        source = current if isinstance(current, str) else current.source
        data.update(task=task_name, output_dir=str(out), **{fam.input_field: str(source)})
        cfg = config_class(name).from_dict(data, where=f"compress stage {i} ({name})")
        result = run_method(name, cfg, model=None if isinstance(current, str) else current, overwrite=overwrite,
                            callbacks=callbacks)
        current = result.load(task_obj)
    return current  # every stage's result was loaded back (RunResult.load)


def run_pipeline(cfg, **kwargs):
    """Run a pipeline recipe section (see :mod:`hfcompress.pipeline.run`)."""
    from hfcompress.pipeline.run import run_pipeline as _run

    return _run(cfg, **kwargs)


def _family_function(name: str):
    def run(cfg, **kwargs) -> RunResult:
        return run_method(name, cfg, **kwargs)

    run.__name__ = name
    run.__doc__ = f"Run the {name!r} method on its config (the run contract); see :func:`run_method`."
    return run


train = _family_function("train")  # hfcompress.distill / prune / quantize are their (callable) packages

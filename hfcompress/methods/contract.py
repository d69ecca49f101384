"""The run contract every method's runner follows.

``run(cfg, *, model=None, resume=False, overwrite=False, callbacks=None) -> RunResult``:

- ``cfg``: the family's typed config (validated); its input model is named by the family's
  ``input_field`` (``model``, or ``teacher`` for distillation) unless ``model`` gives a loaded one
  (a :class:`~hfcompress.hub.LoadedModel`) so that methods chain in memory;
- ``resume`` / ``overwrite``: checkpoints of Trainer-based runs (refused when unused by the method);
- ``callbacks``: ``transformers.TrainerCallback`` objects for Trainer-based runs;
- the result: the output folder (a complete model, published atomically) and the record stage written.

Evaluation is the caller's job (the CLI, pipelines, sweeps, :func:`hfcompress.compress`), never the
runner's.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hfcompress.hub.record import Stage


@dataclasses.dataclass
class RunResult:
    output_dir: Path
    stage: "Stage"
    summary: dict[str, Any] = dataclasses.field(default_factory=dict)  # what to print: losses, timings, choices

    def load(self, task=None):
        """The saved model, read back through hfcompress's loader."""
        from hfcompress.hub.load import load

        return load(self.output_dir, task=task)

    def to_dict(self) -> dict[str, Any]:
        return {"output_dir": str(self.output_dir), "method": self.stage.method, **self.summary}

    # read like the summary dict the runners used to return (``result["train_loss"]``)
    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __contains__(self, key: str) -> bool:
        return key in self.to_dict()

    def get(self, key: str, default: Any = None) -> Any:
        return self.to_dict().get(key, default)


def callable_family(module_name: str, family: str) -> None:
    """Make the package ``module_name`` callable as its family's runner, so that ``hfcompress.prune(cfg)``
    works although ``hfcompress.prune`` is also the package (Python binds the subpackage to that name on
    import, so a function of the same name in ``hfcompress`` would be replaced by it)."""
    import sys
    import types

    class FamilyModule(types.ModuleType):
        def __call__(self, cfg, **kwargs):
            from hfcompress.api import run_method

            return run_method(family, cfg, **kwargs)

    sys.modules[module_name].__class__ = FamilyModule

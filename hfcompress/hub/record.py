"""The compression record: what was done to a model, stored in its ``config.json``.

Like ``quantization_config`` in transformers, the record lives in the model config under one key
(:data:`RECORD_KEY`), so a compressed model is an ordinary ``save_pretrained`` directory that
explains itself. Each stage is ``{method, params, result}``: ``params`` is what the user asked
for, ``result`` is what the loader needs to rebuild the skeleton (per-layer head counts, FFN
widths, channel counts, quantization scheme) plus measured facts. The record is the single
source of truth for loading: weights plus record, nothing else.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional, Union

from hfcompress.config.base import Config
from hfcompress.errors import ModelLoadError

RECORD_KEY = "hfcompress"
FORMAT_VERSION = 1


@dataclasses.dataclass
class Stage(Config):
    method: str
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    result: dict[str, Any] = dataclasses.field(default_factory=dict)

    def config(self):
        """The stage's ``params`` as the typed config of the method that wrote it (through the registry)."""
        from hfcompress.methods.registry import config_class, family_of_stage

        return config_class(family_of_stage(self.method)).from_dict(self.params, where=f"stage {self.method}")


@dataclasses.dataclass
class CompressionRecord(Config):
    format_version: int = FORMAT_VERSION
    base_model: Optional[str] = None
    # a built-in task's name, or a task described by its data (``Task.describe()``: a TaskSpec dict)
    task: Optional[Union[str, dict[str, Any]]] = None
    stages: list[Stage] = dataclasses.field(default_factory=list)
    hfcompress_version: Optional[str] = None

    def validate(self, where: str) -> None:
        if self.format_version > FORMAT_VERSION:
            raise ModelLoadError(f"{where}.format_version: {self.format_version} is newer than this hfcompress "
                                 f"understands ({FORMAT_VERSION}); upgrade hfcompress")

    def with_stage(self, method: str, params: Optional[dict] = None, result: Optional[dict] = None
                   ) -> "CompressionRecord":
        """A new record with one more stage appended (records are treated as values)."""
        stage = Stage(method=method, params=dict(params or {}), result=dict(result or {}))
        return dataclasses.replace(self, stages=[*self.stages, stage])

    @property
    def methods(self) -> list[str]:
        return [s.method for s in self.stages]

    # -- storage in a transformers config ------------------------------------------------
    @classmethod
    def from_model_config(cls, config) -> Optional["CompressionRecord"]:
        data = config.get(RECORD_KEY) if isinstance(config, dict) else getattr(config, RECORD_KEY, None)
        if data is None:
            return None
        return cls.from_dict(data, where=f"config.json[{RECORD_KEY!r}]")

    def attach(self, config) -> None:
        from hfcompress import __version__

        self.hfcompress_version = __version__
        setattr(config, RECORD_KEY, self.to_dict())

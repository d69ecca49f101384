"""Pipelines: several compression stages in one recipe, each saved, recorded and evaluated.

```yaml
pipeline:
  task: sst2
  model: out/teacher            # the input of the first stage
  output_dir: out/pipeline
  stages:
    - distill: {student: {kind: layers, every_k: 2}, epochs: 1}
    - prune: {method: heads, amount: 0.4}
    - quantize: {method: torch-dynamic}
  evaluate: {limit: 500}        # EvalConfig fields for the evaluation after every stage
```
Stage *i* reads stage *i-1*'s output folder (``output_dir/<NN>-<method>``) and writes its own; the task,
input and output fields are filled in, so a stage names only what it does. Every stage's config is
built and validated before the first one runs. A finished stage (its folder is a complete model and its
evaluation record exists) is not run again: an interrupted pipeline resumes at the next stage. Each
method appends its stage to the model's compression record, so the last folder holds the whole history.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Callable, Optional, Union

from hfcompress.config import EvalConfig
from hfcompress.config.base import Config
from hfcompress.errors import ConfigError
from hfcompress.tasks.spec import TaskSpec
from hfcompress.evaluation import evaluate_model, write_json
from hfcompress.methods.registry import FAMILIES, config_class


@dataclasses.dataclass
class Stage:
    name: str  # e.g. "02-prune"
    section: str
    config: Any
    output_dir: Path
    record_path: Path

    @property
    def done(self) -> bool:
        return self.record_path.is_file() and (self.output_dir / "config.json").is_file()


@dataclasses.dataclass
class PipelineConfig(Config):
    task: Union[str, TaskSpec]  # a built-in task name, or your data: {dataset: ..., text_columns: [...], ...}
    model: str
    output_dir: str
    stages: list[dict[str, Any]]
    evaluate: dict[str, Any] = dataclasses.field(default_factory=dict)

    def validate(self, where: str) -> None:
        if not self.stages:
            raise ConfigError(f"{where}.stages: a pipeline needs at least one stage")
        self.plan(where=where)
        self.eval_config(self.model, where=f"{where}.evaluate")

    def eval_config(self, model: str, where: str = "pipeline.evaluate", **overrides: Any) -> EvalConfig:
        data = {**self.evaluate, **overrides}
        for fixed in ("task", "model"):
            if fixed in self.evaluate:
                raise ConfigError(f"{where}.{fixed}: set by the pipeline, remove it")
        return EvalConfig.from_dict({**data, "task": self.task, "model": model}, where=where)

    def plan(self, where: str = "pipeline") -> list[Stage]:
        """Every stage's typed config, validated, with its input and output folders filled in."""
        stages, current = [], self.model
        for i, entry in enumerate(self.stages, start=1):
            at = f"{where}.stages[{i - 1}]"
            if not isinstance(entry, dict) or len(entry) != 1:
                raise ConfigError(f"{at}: each stage is a mapping with one key, one of {', '.join(FAMILIES)}")
            (section, body), = entry.items()
            if section not in FAMILIES:
                raise ConfigError(f"{at}: unknown stage {section!r}; choose from {', '.join(FAMILIES)}")
            body = dict(body or {})
            input_field = FAMILIES[section].input_field
            for fixed in ("task", "output_dir", input_field):
                if fixed in body:
                    raise ConfigError(f"{at}.{section}.{fixed}: set by the pipeline, remove it from the stage")
            name = f"{i:02d}-{section}"
            out = Path(self.output_dir) / name
            body.update({"task": self.task, "output_dir": str(out), input_field: current})
            config = config_class(section).from_dict(body, where=f"{at}.{section}")
            stages.append(Stage(name=name, section=section, config=config, output_dir=out,
                                record_path=Path(self.output_dir) / f"{name}.eval.json"))
            current = str(out)
        return stages


def run_pipeline(cfg: PipelineConfig, eval_overrides: Optional[dict] = None,
                 runners: Optional[dict[str, Callable]] = None) -> list[dict[str, Any]]:
    """Run the stages not yet done; return every stage's evaluation record (in order)."""
    records = []
    for stage in cfg.plan():
        if stage.done:
            print(f"pipeline: stage {stage.name} already done, skipping")
        else:
            if (stage.output_dir / "config.json").is_file():  # saved (atomically) but not yet evaluated
                print(f"pipeline: stage {stage.name} saved earlier, evaluating it")
            elif runners and stage.section in runners:
                print(f"pipeline: running stage {stage.name}")
                runners[stage.section](stage.config)
            else:
                from hfcompress.api import run_method

                print(f"pipeline: running stage {stage.name}")
                run_method(stage.section, stage.config)
            record = evaluate_model(cfg.eval_config(str(stage.output_dir), **(eval_overrides or {})))
            record["label"] = stage.name
            write_json(record, stage.record_path)
        records.append(json.loads(stage.record_path.read_text()))
    return records

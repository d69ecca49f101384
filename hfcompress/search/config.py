"""The ``compress`` recipe section / CLI command: the budget a search must meet.

```yaml
compress:
  task: sst2
  model: out/teacher-sst2
  output_dir: out/sst2-small
  max_drop: 1.0            # points of the main metric (1.0 = 0.01 accuracy) below the teacher
  target_speedup: 4        # or max_latency_ms: 5 (with batch_size: 1), and/or max_size_mb: 15
  batch_size: 32
  time_budget: 2h          # "2h", "30m", "90s" or seconds
  methods: [distill, quantize]   # optional: only these families / variants
  never: [bnb]                   # optional: never these (a prefix before '-' names a group: bnb, onnx, torch)
```
Everything is checked here, before anything runs; a bad value names its field.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Optional, Union

from hfcompress.config.base import Config
from hfcompress.errors import ConfigError
from hfcompress.tasks.spec import TaskSpec

_UNITS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-zA-Z]*)\s*$")
# the size unit of max_size_mb: MiB, as on the report's size axis
MB = 2 ** 20


def parse_duration(value: Union[str, float, int, None], where: str = "time_budget") -> Optional[float]:
    """Seconds from ``"2h"``, ``"30m"``, ``"90s"``, ``"1.5h"`` or a number of seconds; None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected a duration such as 2h, 30m, 90s or seconds, got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ConfigError(f"{where}: expected a duration such as 2h, 30m, 90s or seconds, got {value!r}")
        number, unit = float(match.group(1)), match.group(2).lower()
        if unit and unit not in _UNITS:
            raise ConfigError(f"{where}: unknown unit {match.group(2)!r} in {value!r}; use s, m or h")
        seconds = number * _UNITS.get(unit, 1.0)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"{where}: must be a positive duration, got {value!r}")
    return seconds


@dataclasses.dataclass
class FinetuneOptions(Config):
    """The short fine-tune run first when the model has no classification head for the task."""

    epochs: float = 1.0
    max_train_samples: Optional[int] = 2000  # None: the whole train split
    learning_rate: float = 5e-5
    batch_size: int = 32

    def validate(self, where: str) -> None:
        from hfcompress.config.recipe import check_positive

        check_positive(where, epochs=self.epochs, max_train_samples=self.max_train_samples,
                       learning_rate=self.learning_rate, batch_size=self.batch_size)


@dataclasses.dataclass
class CompressConfig(Config):
    """A measured search for the cheapest pipeline that meets every constraint (see hfcompress.search.run)."""

    task: Union[str, TaskSpec]  # a built-in task name, or your data: {dataset: ..., text_columns: [...], ...}
    model: str  # the teacher: a model folder or Hub id (fine-tuned first when it has no head for the task)
    output_dir: str  # the chosen model; candidates/ and report/ beside it
    max_drop: float = 1.0  # points of the main metric the model may lose vs the teacher (1.0 = 0.01 accuracy)
    target_speedup: Optional[float] = None  # at least this many times faster than the teacher's best fp32 runtime
    max_latency_ms: Optional[float] = None  # median latency per batch of batch_size at most this
    max_size_mb: Optional[float] = None  # size on disk at most this (MiB)
    batch_size: int = 32  # the batch size latency is measured at
    threads: Optional[int] = None  # intra-op threads for every timing (default: torch's choice)
    time_budget: Optional[Union[float, str]] = None  # stop exploring after this: 2h, 30m, 90s or seconds
    methods: Optional[list[str]] = None  # only these families / variants (e.g. distill,quantize)
    never: Optional[list[str]] = None  # never these families / variants (e.g. bnb, heads)
    estimate_samples: int = 500  # validation examples (a seeded sample) to estimate each candidate on
    finetune: FinetuneOptions = dataclasses.field(default_factory=FinetuneOptions)
    # training examples per training-heavy candidate (distilled students, recovery fine-tunes); default: with a
    # time_budget, sized so each fits half the time left at the training speed measured in this run, else
    # finetune.max_train_samples
    train_samples: Optional[int] = None
    max_length: int = 128
    timing_rounds: int = 15  # interleaved timing rounds per candidate (against the baseline)
    seed: int = 42
    datasets_mirror: Optional[str] = None

    def validate(self, where: str) -> None:
        from hfcompress.config.recipe import check_positive

        if self.max_drop < 0:
            raise ConfigError(f"{where}.max_drop: must be >= 0 (points of the main metric), got {self.max_drop:g}")
        if self.max_drop > 100:
            raise ConfigError(f"{where}.max_drop: is in points (1.0 = 0.01 accuracy), at most 100; got "
                              f"{self.max_drop:g}")
        check_positive(where, target_speedup=self.target_speedup, max_latency_ms=self.max_latency_ms,
                       max_size_mb=self.max_size_mb, batch_size=self.batch_size, threads=self.threads,
                       estimate_samples=self.estimate_samples, max_length=self.max_length,
                       train_samples=self.train_samples,
                       timing_rounds=self.timing_rounds)
        if self.target_speedup is not None and self.target_speedup < 1:
            raise ConfigError(f"{where}.target_speedup: a speed-up below 1 asks for a slower model; got "
                              f"{self.target_speedup:g}")
        if self.target_speedup is not None and self.max_latency_ms is not None:
            raise ConfigError(f"{where}.max_latency_ms: contradicts target_speedup (two latency targets); give one")
        if self.target_speedup is None and self.max_latency_ms is None and self.max_size_mb is None:
            raise ConfigError(f"{where}.target_speedup: no target given; give target_speedup, max_latency_ms "
                              "or max_size_mb (with max_drop)")
        parse_duration(self.time_budget, f"{where}.time_budget")
        self.methods = expand_names(self.methods, f"{where}.methods")
        self.never = expand_names(self.never, f"{where}.never")
        both = sorted(set(self.methods or ()) & set(self.never or ()))
        if both:
            raise ConfigError(f"{where}.never: {both[0]!r} is also in methods; a method cannot be both pinned "
                              "and excluded")
        self.finetune.validate(f"{where}.finetune")
        if isinstance(self.output_dir, str) and isinstance(self.model, str):
            from hfcompress.config.paths import refuse_output_file, refuse_output_over_input

            refuse_output_over_input(self.output_dir, [self.model], where=f"{where}.output_dir")
            refuse_output_file(self.output_dir, where=f"{where}.output_dir")

    @property
    def time_budget_s(self) -> Optional[float]:
        return parse_duration(self.time_budget)


def known_names() -> dict[str, str]:
    """Every name ``methods`` / ``never`` accept: families, variants and groups of variants (``bnb``)."""
    from hfcompress.methods.registry import FAMILIES, VARIANTS

    names = {f: "family" for f in FAMILIES}
    for family, variant in VARIANTS:
        names.setdefault(variant, "variant")
        if "-" in variant:
            names.setdefault(variant.split("-")[0], "group")
    return names


def expand_names(names: Optional[list[str]], where: str) -> Optional[list[str]]:
    """``names`` checked against the registry, lower-cased and deduplicated (groups stay as given)."""
    if names is None:
        return None
    known = known_names()
    out = []
    for i, name in enumerate(names):
        key = str(name).strip().lower()
        if key not in known:
            raise ConfigError(f"{where}[{i}]: unknown method {name!r}; choose from {', '.join(sorted(known))}")
        out.append(key)
    if not out:
        raise ConfigError(f"{where}: an empty list; leave it out instead")
    return list(dict.fromkeys(out))


def matches(names: Optional[list[str]], family: str, variant: Optional[str]) -> bool:
    """Whether a stage of ``family`` (method ``variant``) is named by ``names`` (a family, variant or group)."""
    if not names:
        return False
    keys = {family}
    if variant:
        keys |= {variant, variant.split("-")[0]}
    return bool(keys & set(names))

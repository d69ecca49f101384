"""The search of ``hfcompress compress``: measured, cheapest first, explained step by step.

1. **Teacher.** A model without a classification head for the task is fine-tuned first (``finetune``
   options; a short run). The teacher is measured on PyTorch fp32 and on ONNX Runtime fp32 (O2
   fusions for text), timed interleaved in this process at ``batch_size`` with ``threads``: the
   faster is *the teacher on its best fp32 runtime*, the baseline every speed-up is against. The
   accuracy reference is the teacher's metric.
2. **Candidates** (:mod:`hfcompress.search.candidates`), in cost order: quantization backends alone;
   then structural pruning at a few amounts followed by the best backend of step one; training-heavy
   pipelines (distilled students, recovery fine-tunes) only when the cheap ones cannot meet the
   target. Each runs through :func:`hfcompress.compress` into ``OUT/candidates/<name>/``, has its
   metric estimated on a seeded sample of ``estimate_samples`` validation examples and is timed
   interleaved against the baseline; ``OUT/candidates/<name>.eval.json`` is its evaluation record
   with a ``search`` block (each constraint: limit, value, met; why it was kept or rejected). A
   candidate whose record exists is not measured again (re-running the command resumes).
3. **Stop** at the first candidate meeting every constraint whose accuracy the full validation split
   confirms, or when the time budget is spent. The chosen model is copied to ``OUT/`` (atomically),
   ``OUT/report/`` gets the table and Pareto plots of every candidate, the chosen one marked, the
   budget drawn, and a paragraph on why it was chosen and which constraint bound. If none meets the
   target, the closest one (smallest summed relative shortfall) is kept, marked as not meeting it,
   and the log says which constraint failed by how much.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Optional

from hfcompress.errors import HfCompressError
from hfcompress.search.candidates import (Candidate, allowed, quantization_candidates, structural_candidates,
                                          train_samples_of, training_candidates, with_train_samples)
from hfcompress.search.config import MB, CompressConfig

# what OUT/ holds besides the chosen model; kept when the model is published there
KEEP = ("candidates", "work", "report", "search.json", "search.log", "checkpoints")
# fields whose change makes earlier measurements incomparable (a resumed search must match them)
FINGERPRINT = ("task", "model", "batch_size", "threads", "estimate_samples", "max_length", "finetune", "seed")
BASELINE_NAMES = ("teacher-pytorch-fp32", "teacher-onnx-fp32")
# a training-heavy candidate sized to fewer examples than this is not worth its time: skipped instead
MIN_TRAIN_SAMPLES = 256
# the share of the time left that one training-heavy candidate may take (the rest: its evaluation, the next ones)
TRAIN_SHARE = 0.5


class SearchError(HfCompressError):
    """The search cannot run as asked."""


@dataclasses.dataclass
class Measured:
    name: str
    path: str
    record: dict[str, Any]
    record_file: Path
    tier: str = "baseline"

    @property
    def search(self) -> dict[str, Any]:
        return self.record["search"]

    @property
    def met(self) -> bool:
        return bool(self.search.get("met"))

    @property
    def shortfall(self) -> float:
        return float(sum(c["shortfall"] for c in self.search["constraints"].values()))


class _Log:
    def __init__(self, path: Optional[Path], start: float, echo: Callable[[str], None]):
        self.path, self.start, self.echo = path, start, echo

    def __call__(self, message: str) -> None:
        line = f"compress [{time.monotonic() - self.start:6.0f}s] {message}"
        self.echo(line)
        if self.path is not None:
            with open(self.path, "a") as fh:
                fh.write(line + "\n")


def _print(line: str) -> None:
    print(line, flush=True)


def needs_finetune(model: str) -> bool:
    """Whether ``model`` has no classification head (a base encoder such as all-MiniLM-L6-v2)."""
    from hfcompress.hub.load import read_config, resolve_model_dir
    from hfcompress.training.train import HEAD_SUFFIXES

    if model.startswith("scratch:"):
        return True
    from hfcompress.hub.record import CompressionRecord

    config = read_config(resolve_model_dir(model))
    if CompressionRecord.from_model_config(config) is not None:
        return False
    return not any(str(a).endswith(HEAD_SUFFIXES) for a in (config.get("architectures") or []))


def _fingerprint(cfg: CompressConfig) -> dict[str, Any]:
    data = cfg.to_dict()
    return json.loads(json.dumps({k: data[k] for k in FINGERPRINT}, default=str))


def _task_arg(cfg: CompressConfig):
    """What hfcompress.compress takes as task: a built-in name, or the dataset description as a dict."""
    return cfg.task if isinstance(cfg.task, str) else cfg.task.to_dict()


class Search:
    def __init__(self, cfg: CompressConfig, resume: bool = False, overwrite: bool = False,
                 echo: Callable[[str], None] = _print):
        from hfcompress.hub.save import OutputDirError, check_output_dir
        from hfcompress.tasks import get_task

        self.cfg, self.start = cfg, time.monotonic()
        self.budget_s = cfg.time_budget_s
        self.out = Path(cfg.output_dir)
        self.cdir = self.out / "candidates"
        state_file = self.out / "search.json"
        own = state_file.is_file()
        check_output_dir(self.out, inputs=[cfg.model], overwrite=overwrite, resume=own or resume, keep=KEEP)
        if own and not overwrite:
            try:
                earlier = json.loads(state_file.read_text()).get("fingerprint")
            except (OSError, json.JSONDecodeError):
                earlier = None
            now = _fingerprint(cfg)
            if earlier is not None and earlier != now:
                changed = [k for k in FINGERPRINT if earlier.get(k) != now.get(k)]
                raise OutputDirError(f"--output-dir: {self.out} holds a search with other settings "
                                     f"({', '.join(changed)}); its measurements are not comparable: pass "
                                     "--overwrite or choose another folder")
        if overwrite and own:
            for name in ("candidates", "work", "report", "search.log"):
                target = self.out / name
                shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)
        self.task = get_task(cfg.task, mirror=cfg.datasets_mirror)
        self.cdir.mkdir(parents=True, exist_ok=True)
        self.log = _Log(self.out / "search.log", self.start, echo)
        self.steps: list[dict[str, Any]] = []
        self.measured: list[Measured] = []
        self._write_state(status="running")

    # -- bookkeeping ---------------------------------------------------------------------------
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def budget_left(self) -> Optional[float]:
        return None if self.budget_s is None else self.budget_s - self.elapsed()

    def _write_state(self, **extra: Any) -> None:
        from hfcompress.evaluation import write_json

        self.out.mkdir(parents=True, exist_ok=True)
        write_json({"fingerprint": _fingerprint(self.cfg), "config": json.loads(json.dumps(self.cfg.to_dict(),
                                                                                          default=str)),
                    "steps": getattr(self, "steps", []), **extra}, self.out / "search.json")

    def step(self, what: str, measured: str, decision: str) -> None:
        self.steps.append({"t_s": round(self.elapsed(), 1), "tried": what, "measured": measured,
                           "decision": decision})
        self.log(f"{what}: {measured} -> {decision}")

    # -- measuring -------------------------------------------------------------------------------
    def _eval_config(self, model: str, limit: Optional[int]):
        from hfcompress.config import EvalConfig

        c = self.cfg
        return EvalConfig(model=model, task=_task_arg(c), limit=limit, batch_size=c.batch_size, max_length=c.max_length,
                          threads=c.threads, warmup=0, repeats=1, datasets_mirror=c.datasets_mirror)

    def _latency_fn(self, loaded) -> Callable[[], object]:
        """``loaded.predict`` on the same examples for every model (each through its own preprocessor)."""
        task, c = self.task, self.cfg
        if not hasattr(self, "_latency_rows"):
            raw = task.load(task.eval_splits[0], limit=c.estimate_samples, mirror=c.datasets_mirror)
            self._latency_rows = raw.select(range(min(c.batch_size, len(raw))))
        data = task.preprocess(self._latency_rows, loaded.preprocessor, max_length=c.max_length, train=False)
        batch = task.collator(loaded.preprocessor)([data[i] for i in range(len(data))])
        batch.pop("labels", None)
        return lambda: loaded.predict(batch)

    def _estimate(self, loaded) -> dict[str, Any]:
        from hfcompress.evaluation import evaluate_loaded

        return evaluate_loaded(loaded, self.task, self._eval_config(str(loaded.path), self.cfg.estimate_samples))

    @staticmethod
    def _set_latency(record: dict[str, Any], timing: dict[str, float], batch: int) -> None:
        eff = record["efficiency"]
        eff.update(timing, latency_batch_size=batch,
                   throughput_examples_per_s=batch / (timing["latency_ms_median"] / 1000.0),
                   latency_timed="interleaved")

    def constraints(self, metric: float, latency_ms: float, speedup: float, size_bytes: int) -> dict[str, Any]:
        c = self.cfg
        drop = 100.0 * (self.reference_metric - metric)
        out = {"max_drop": {"limit": c.max_drop, "value": drop, "met": drop <= c.max_drop + 1e-9, "unit": "points",
                            "shortfall": max(0.0, drop - c.max_drop) / max(c.max_drop, 1.0),
                            "slack": (c.max_drop - drop) / max(c.max_drop, 1.0)}}
        if c.target_speedup is not None:
            out["target_speedup"] = {"limit": c.target_speedup, "value": speedup, "met": speedup >= c.target_speedup,
                                     "unit": "x", "shortfall": max(0.0, c.target_speedup / speedup - 1),
                                     "slack": speedup / c.target_speedup - 1}
        if c.max_latency_ms is not None:
            out["max_latency_ms"] = {"limit": c.max_latency_ms, "value": latency_ms, "unit": "ms",
                                     "met": latency_ms <= c.max_latency_ms,
                                     "shortfall": max(0.0, latency_ms / c.max_latency_ms - 1),
                                     "slack": c.max_latency_ms / latency_ms - 1}
        if c.max_size_mb is not None:
            size = size_bytes / MB
            out["max_size_mb"] = {"limit": c.max_size_mb, "value": size, "met": size <= c.max_size_mb, "unit": "MiB",
                                  "shortfall": max(0.0, size / c.max_size_mb - 1), "slack": c.max_size_mb / size - 1}
        return out

    @staticmethod
    def describe_constraints(cons: dict[str, Any]) -> str:
        parts = []
        for name, v in cons.items():
            sign = {"max_drop": "<=", "target_speedup": ">=", "max_latency_ms": "<=", "max_size_mb": "<="}[name]
            value = f"{v['value']:+.2f}" if name == "max_drop" else f"{v['value']:.2f}"
            parts.append(f"{name} {value}{v['unit'] if v['unit'] != 'points' else ' pt'} "
                         f"{'ok' if v['met'] else 'FAILS ' + sign + ' ' + format(v['limit'], 'g')}")
        return "; ".join(parts)

    # -- the steps ---------------------------------------------------------------------------------
    def prepare_teacher(self) -> str:
        from hfcompress.api import run_method
        from hfcompress.config import TrainConfig

        c = self.cfg
        if not needs_finetune(c.model):
            return c.model
        folder = self.out / "work" / "teacher"
        if (folder / "config.json").is_file():
            self.step("fine-tune the teacher", f"{folder} exists (an earlier run)", "reused")
            return str(folder)
        f = c.finetune
        self.log(f"{c.model} has no classification head for {self.task.name}: a short fine-tune first "
                 f"({f.epochs:g} epoch(s) on {f.max_train_samples or 'all'} training examples)")
        t0 = time.monotonic()
        tcfg = TrainConfig.from_dict({
            "task": _task_arg(c), "model": c.model, "output_dir": str(folder), "epochs": f.epochs,
            "max_train_samples": f.max_train_samples, "learning_rate": f.learning_rate, "batch_size": f.batch_size,
            "max_length": c.max_length, "threads": c.threads, "datasets_mirror": c.datasets_mirror, "seed": c.seed,
            "eval_at_end": False, "save_steps": 1 << 20, "logging_steps": 10}, where="compress.finetune")
        run_method("train", tcfg, overwrite=True)
        self.finetune_s = time.monotonic() - t0
        seen = min(f.max_train_samples or self.train_size(), self.train_size()) * f.epochs
        self.train_rate = (seen / self.finetune_s, "the teacher's fine-tune")
        self.step("fine-tune the teacher", f"{self.finetune_s:.0f} s", f"teacher saved to {folder}")
        return str(folder)

    def measure_baseline(self, teacher: str) -> None:
        import hfcompress
        from hfcompress.evaluation.efficiency import interleaved_latency, set_threads

        self.threads = set_threads(self.cfg.threads)
        files = {n: self.cdir / f"{n}.eval.json" for n in BASELINE_NAMES}
        pt = hfcompress.load(teacher, task=self.task)
        onnx_dir = self.cdir / "teacher-onnx-fp32"
        stage = {"method": "onnx-fp32", **({"optimization_level": "O2"} if self.task.modality == "text" else {})}
        if all(f.is_file() for f in files.values()) and (onnx_dir / "config.json").is_file():
            records = {n: json.loads(f.read_text()) for n, f in files.items()}
            onnx = hfcompress.load(str(onnx_dir), task=self.task)
            self.step("baseline", "measured in an earlier run", "reused (not measured again)")
        else:
            shutil.rmtree(onnx_dir, ignore_errors=True)
            records = {"teacher-pytorch-fp32": self._estimate(pt)}
            try:
                onnx = hfcompress.compress(teacher, {"quantize": stage}, task=_task_arg(self.cfg),
                                           output_dir=onnx_dir)
                records["teacher-onnx-fp32"] = self._estimate(onnx)
            except HfCompressError as exc:
                onnx = None
                self.log(f"teacher on ONNX Runtime fp32: failed ({exc}); the baseline is PyTorch fp32")
            fns = {"teacher-pytorch-fp32": self._latency_fn(pt)}
            if onnx is not None:
                fns["teacher-onnx-fp32"] = self._latency_fn(onnx)
            timing = interleaved_latency(fns, rounds=self.cfg.timing_rounds)
            batch = len(self._latency_rows)
            for n, rec in records.items():
                self._set_latency(rec, timing[n], batch)
                rec["label"] = n
        base_name = min(records, key=lambda n: records[n]["efficiency"]["latency_ms_median"])
        self.reference_metric = records["teacher-pytorch-fp32"]["metrics"][self.task.main_metric]
        self.base_name = base_name
        self.base_loaded = onnx if base_name == "teacher-onnx-fp32" else pt
        self.base_fn = self._latency_fn(self.base_loaded)
        base_lat = self.base_latency = records[base_name]["efficiency"]["latency_ms_median"]
        for n, rec in records.items():
            lat = rec["efficiency"]["latency_ms_median"]
            cons = self.constraints(rec["metrics"][self.task.main_metric], lat, base_lat / lat,
                                    rec["efficiency"]["size_on_disk_bytes"])
            kept = {k: v for k, v in (rec.get("search") or {}).items() if k in ("full_metric", "full_examples")}
            rec["search"] = {**kept, "role": "baseline" if n == base_name else "teacher on another runtime",
                             "constraints": cons, "met": all(v["met"] for v in cons.values()),
                             "speedup": base_lat / lat, "tier": "baseline"}
            from hfcompress.evaluation import write_json

            write_json(rec, files[n])
            path = teacher if n == "teacher-pytorch-fp32" else str(onnx_dir)
            self.measured.append(Measured(n, path, rec, files[n]))
        lat = {n: r["efficiency"]["latency_ms_median"] for n, r in records.items()}
        self.step("baseline: the teacher on PyTorch fp32 and on ONNX Runtime fp32",
                  ", ".join(f"{n} {records[n]['metrics'][self.task.main_metric]:.4f} {lat[n]:.2f} ms"
                            for n in records) + f" at batch {len(self._latency_rows)}, "
                  f"{self.threads} thread(s)",
                  f"baseline = {base_name} (the faster fp32 runtime); speed-ups are against its "
                  f"{lat[base_name]:.2f} ms")
        self.teacher = teacher

    def _files(self, cand: Candidate) -> tuple[Path, Path]:
        """Where ``cand``'s evaluation record (or its failure) is kept: what a resumed search reads back."""
        return self.cdir / f"{cand.name}.eval.json", self.cdir / f"{cand.name}.failed.json"

    def measured_before(self, cand: Candidate) -> bool:
        return any(f.is_file() for f in self._files(cand))

    def measure(self, cand: Candidate) -> Optional[Measured]:
        import hfcompress
        from hfcompress.evaluation import write_json
        from hfcompress.evaluation.efficiency import interleaved_latency

        record_file, failed_file = self._files(cand)
        folder = self.cdir / cand.name
        if record_file.is_file():
            rec = json.loads(record_file.read_text())
            # the budget may have changed since (it is not part of the fingerprint): judge the measurements again
            s, eff = rec["search"], rec["efficiency"]
            s["constraints"] = self.constraints(rec["metrics"][self.task.main_metric], eff["latency_ms_median"],
                                                s["speedup"], eff["size_on_disk_bytes"])
            s["met"] = all(v["met"] for v in s["constraints"].values())
            for key in ("chosen", "meets_target", "confirmed"):
                s.pop(key, None)
            m = Measured(cand.name, s["model_dir"], rec, record_file, cand.tier)
            self.measured.append(m)
            self.step(f"{cand.name} [{cand.tier}]", "measured in an earlier run: "
                      + self.describe_constraints(rec["search"]["constraints"]), "skipped (resume)")
            return m
        if failed_file.is_file():
            self.step(f"{cand.name} [{cand.tier}]", "failed in an earlier run: "
                      + json.loads(failed_file.read_text()).get("error", ""), "skipped (resume)")
            return None
        shutil.rmtree(folder, ignore_errors=True)  # an interrupted attempt
        t0 = time.monotonic()
        self.log(f"trying {cand.name} [{cand.tier}]: {cand.describe()} ({cand.why})")
        try:
            loaded = hfcompress.compress(self.teacher, cand.stages, task=_task_arg(self.cfg), output_dir=folder)
            compress_s = time.monotonic() - t0
            rec = self._estimate(loaded)
            fn = self._latency_fn(loaded)
        except HfCompressError as exc:
            write_json({"candidate": cand.name, "stages": cand.stages, "error": str(exc)}, failed_file)
            self.step(f"{cand.name} [{cand.tier}]", f"failed: {exc}", "goes on with the next candidate")
            return None
        timing = interleaved_latency({"baseline": self.base_fn, cand.name: fn}, rounds=self.cfg.timing_rounds)
        batch = len(self._latency_rows)
        speedup = timing["baseline"]["latency_ms_median"] / timing[cand.name]["latency_ms_median"]
        # On a shared machine absolute timings drift between pairings; the ratio measured side by side does
        # not. The record's latency is the baseline's (measured once, at the start) over that ratio, so
        # every record of the search is on one time scale; the raw medians stay in the record.
        scale = self.base_latency / timing["baseline"]["latency_ms_median"]
        self._set_latency(rec, {k: (v * scale if k.startswith("latency_ms") else v)
                                for k, v in timing[cand.name].items()}, batch)
        rec["efficiency"]["latency_normalized_to_baseline"] = True
        rec["efficiency"]["latency_ms_median_raw"] = timing[cand.name]["latency_ms_median"]
        metric = rec["metrics"][self.task.main_metric]
        cons = self.constraints(metric, rec["efficiency"]["latency_ms_median"], speedup,
                                rec["efficiency"]["size_on_disk_bytes"])
        met = all(v["met"] for v in cons.values())
        rec["label"] = cand.name
        rec["search"] = {"candidate": cand.name, "tier": cand.tier, "stages": cand.stages, "why_tried": cand.why,
                         "model_dir": str(loaded.path), "constraints": cons, "met": met, "speedup": speedup,
                         "baseline": self.base_name,
                         "baseline_latency_ms_paired": timing["baseline"]["latency_ms_median"],
                         "estimate_samples": rec["n_examples"], "seconds": round(time.monotonic() - t0, 1),
                         "compress_seconds": round(compress_s, 1),
                         "verdict": "meets every constraint on the estimate" if met else
                         "rejected: " + ", ".join(k for k, v in cons.items() if not v["met"])}
        if cand.tier == "train":
            samples = train_samples_of(cand) or self.train_size()
            rec["search"]["train_samples"] = samples
            self.train_rate = (samples * self.cfg.finetune.epochs / compress_s, cand.name)
        write_json(rec, record_file)
        m = Measured(cand.name, str(loaded.path), rec, record_file, cand.tier)
        self.measured.append(m)
        del loaded, fn
        gc.collect()
        self.step(f"{cand.name} [{cand.tier}]",
                  f"{self.task.main_metric} {metric:.4f}, x{speedup:.2f}, "
                  f"{rec['efficiency']['size_on_disk_bytes'] / MB:.2f} MiB in {time.monotonic() - t0:.0f} s: "
                  f"{self.describe_constraints(cons)}",
                  "meets every constraint on the estimate: confirm on the full split" if met else "rejected, goes on")
        return m

    def confirm(self, m: Measured) -> bool:
        """The full validation split: the candidate's drop against the teacher's, both measured in full."""
        import hfcompress
        from hfcompress.evaluation import evaluate_loaded, write_json

        main = self.task.main_metric
        if not hasattr(self, "full_reference"):
            teacher = self.measured[0]
            done = teacher.record.get("search", {}).get("full_metric")
            if done is None:
                rec = evaluate_loaded(hfcompress.load(teacher.path, task=self.task), self.task,
                                      self._eval_config(teacher.path, None))
                done = rec["metrics"][main]
                teacher.record["search"]["full_metric"] = done
                teacher.record["search"]["full_examples"] = rec["n_examples"]
                write_json(teacher.record, teacher.record_file)
            self.full_reference = done
        s = m.search
        if "full_metric" not in s:
            rec = evaluate_loaded(hfcompress.load(m.path, task=self.task), self.task, self._eval_config(m.path, None))
            s["full_metric"], s["full_examples"] = rec["metrics"][main], rec["n_examples"]
        drop = 100.0 * (self.full_reference - s["full_metric"])
        s["full_drop"] = drop
        s["confirmed"] = drop <= self.cfg.max_drop + 1e-9
        write_json(m.record, m.record_file)
        self.step(f"confirm {m.name} on the full split",
                  f"{main} {s['full_metric']:.4f} vs teacher {self.full_reference:.4f} ({s['full_examples']} "
                  f"examples): drop {drop:+.2f} pt",
                  "confirmed" if s["confirmed"] else f"drop > max_drop {self.cfg.max_drop:g}: not kept, goes on")
        return s["confirmed"]

    # -- the walk ------------------------------------------------------------------------------------
    def _budget_spent(self) -> bool:
        left = self.budget_left()
        if left is not None and left <= 0:
            self.step("time budget", f"{self.elapsed():.0f} s of {self.budget_s:.0f} s spent", "stops exploring")
            return True
        return False

    def train_size(self) -> int:
        """Examples in the task's train split (the most a training stage can use)."""
        if not hasattr(self, "_train_size"):
            self._train_size = len(self.task.load(self.task.train_split, mirror=self.cfg.datasets_mirror))
        return self._train_size

    def size_training(self, cand: Candidate) -> Optional[Candidate]:
        """``cand`` with its training examples sized to the time budget; None (skipped, logged) if it cannot fit.

        With a time budget and a measured training speed (the teacher's fine-tune, then each training-heavy
        candidate's own run), a candidate gets ``TRAIN_SHARE`` of the time left after one evaluation, at that
        speed; otherwise ``train_samples`` (default ``finetune.max_train_samples``). An explicit
        ``train_samples`` is never changed, only skipped when the measured speed says it cannot finish."""
        c = self.cfg
        epochs = c.finetune.epochs
        fixed = c.train_samples or c.finetune.max_train_samples
        left, rate = self.budget_left(), getattr(self, "train_rate", None)
        label = f"{cand.name} [{cand.tier}]"
        if left is None or rate is None:
            sized = with_train_samples(cand, fixed)
            self.step(label, f"{fixed or 'all'} training examples x {epochs:g} epoch(s)",
                      "no time budget" if left is None else "no training speed measured yet: the fixed budget")
            return sized
        per_s, source = rate
        usable = TRAIN_SHARE * (left - self.eval_seconds())
        if c.train_samples:
            need = c.train_samples * epochs / per_s
            if need > usable:
                self.step(label, f"{c.train_samples} examples x {epochs:g} epoch(s) at {per_s:.1f} examples/s "
                          f"(measured on {source}) need ~{need:.0f} s; {left:.0f} s left",
                          "skipped: it would not finish in its share of the budget")
                return None
            return with_train_samples(cand, c.train_samples)
        samples = min(int(usable * per_s / epochs), self.train_size())
        if samples < min(MIN_TRAIN_SAMPLES, self.train_size()):
            self.step(label, f"{left:.0f} s left: {samples} examples x {epochs:g} epoch(s) would fit at "
                      f"{per_s:.1f} examples/s (measured on {source})",
                      f"skipped: under {MIN_TRAIN_SAMPLES} training examples is not worth the time")
            return None
        self.step(label, f"{left:.0f} s left, training at {per_s:.1f} examples/s (measured on {source})",
                  f"sized to {samples} of {self.train_size()} training examples x {epochs:g} epoch(s) "
                  f"(~{samples * epochs / per_s:.0f} s, {TRAIN_SHARE:.0%} of the time left after one evaluation)")
        return with_train_samples(cand, None if samples >= self.train_size() else samples)

    def eval_seconds(self) -> float:
        """What one candidate's estimate + timing took here (median over the candidates measured so far)."""
        spent = sorted(m.search["seconds"] - m.search.get("compress_seconds", 0.0) for m in self.measured
                       if m.tier != "baseline" and "seconds" in m.search)
        return spent[len(spent) // 2] if spent else 30.0

    def walk(self, candidates: list[Candidate]) -> Optional[Measured]:
        c = self.cfg
        failed_groups: dict[str, str] = {}
        for cand in candidates:
            why_not = allowed(cand, c.methods, c.never)
            if why_not:
                self.step(f"{cand.name} [{cand.tier}]", "not run", f"skipped: {why_not}")
                continue
            if cand.group in failed_groups:
                self.step(f"{cand.name} [{cand.tier}]", "not run",
                          f"skipped: {failed_groups[cand.group]} already lost too much accuracy (more of the same "
                          "cannot recover it)")
                continue
            if self._budget_spent():
                self.out_of_time = True
                return None
            if cand.tier == "train" and not self.measured_before(cand):
                cand = self.size_training(cand)
                if cand is None:
                    continue
            m = self.measure(cand)
            if m is None:
                continue
            if not m.search["constraints"]["max_drop"]["met"] and cand.group:
                failed_groups[cand.group] = cand.name
            if m.met and self.confirm(m):
                return m
        return None

    def run(self) -> dict[str, Any]:
        c = self.cfg
        self.out_of_time = False
        targets = ", ".join(f"{k} {getattr(c, k):g}" for k in ("max_drop", "target_speedup", "max_latency_ms",
                                                               "max_size_mb") if getattr(c, k) is not None)
        self.log(f"task {self.task.name}, model {c.model}; budget: {targets}"
                 + (f"; time budget {self.budget_s:.0f} s" if self.budget_s else "")
                 + f"; latency at batch {c.batch_size}; output {self.out}")
        teacher = self.prepare_teacher()
        self.measure_baseline(teacher)
        from hfcompress.hub.load import read_config, resolve_model_dir

        model_config = read_config(resolve_model_dir(teacher))
        modality = self.task.modality
        chosen = self.walk(quantization_candidates(modality, c.methods))
        quant = None
        if chosen is None and not self.out_of_time:
            ok = [m for m in self.measured if m.tier == "quantize" and m.search["constraints"]["max_drop"]["met"]]
            if ok:
                best = max(ok, key=lambda m: m.search["speedup"])
                quant = best.search["stages"][0]["quantize"]["method"]
                self.step("quantization alone", "no backend meets every constraint",
                          f"structural pruning next, each followed by {quant} (the fastest backend that kept the "
                          f"metric, x{best.search['speedup']:.2f})")
            else:
                self.step("quantization alone", "no backend kept the metric (or none ran)",
                          "structural pruning next, without quantization")
            chosen = self.walk(structural_candidates(modality, model_config, quant,
                                                     need_size=c.max_size_mb is not None))
        if chosen is None and not self.out_of_time:
            self.step("cheap candidates", "none meets every constraint",
                      "training-heavy candidates next (distilled students, recovery fine-tunes)")
            chosen = self.walk(training_candidates(modality, model_config, quant, epochs=c.finetune.epochs))
        return self.finish(chosen)

    # -- the result ------------------------------------------------------------------------------------
    def finish(self, chosen: Optional[Measured]) -> dict[str, Any]:
        from hfcompress.hub.save import atomic_directory

        met = chosen is not None
        if chosen is None:
            pool = [m for m in self.measured if m.tier != "baseline"] or [m for m in self.measured
                                                                         if m.name == self.base_name]
            chosen = min(pool, key=lambda m: (m.shortfall, -m.search["speedup"]))
            if chosen.tier != "baseline" and "full_metric" not in chosen.search:
                self.confirm(chosen)
            failed = {k: v for k, v in chosen.search["constraints"].items() if not v["met"]}
            if chosen.search.get("confirmed") is False and "max_drop" not in failed:
                failed["max_drop"] = {**chosen.search["constraints"]["max_drop"],
                                      "value": chosen.search["full_drop"]}
            failures = "; ".join(self._shortfall_text(k, v) for k, v in failed.items()) or "none"
            why = (f"No candidate met every constraint{' within the time budget' if self.out_of_time else ''}. "
                   f"Kept the closest, {chosen.name} (NOT meeting the target): {failures}.")
        else:
            cons = chosen.search["constraints"]
            binding = min(cons, key=lambda k: cons[k]["slack"])
            cheaper = [m for m in self.measured if m.tier != "baseline" and m is not chosen]
            rejected = "; ".join(f"{m.name} failed " + ", ".join(k for k, v in m.search["constraints"].items()
                                                                 if not v["met"]) for m in cheaper[:6])
            why = (f"{chosen.name} is the first candidate in cost order that meets every constraint "
                   f"({self.describe_constraints(cons)}), its accuracy confirmed on the full validation split "
                   f"({chosen.search['full_drop']:+.2f} points vs the teacher). The binding constraint is {binding} "
                   f"(least slack: {cons[binding]['value']:.2f} against {cons[binding]['limit']:g}). "
                   + (f"Cheaper candidates tried first: {rejected}." if rejected else ""))
        chosen.record["search"]["chosen"] = True
        chosen.record["search"]["meets_target"] = met
        from hfcompress.evaluation import write_json

        write_json(chosen.record, chosen.record_file)
        self.log(why)
        # the chosen model in OUT/ (its files copied, atomically; candidates/, report/ ... stay)
        from hfcompress.hub.load import resolve_model_dir

        with atomic_directory(self.out, overwrite=True, keep=KEEP) as tmp:
            for entry in Path(resolve_model_dir(chosen.path)).iterdir():
                if entry.is_dir():
                    if entry.name not in KEEP:
                        shutil.copytree(entry, tmp / entry.name)
                else:
                    shutil.copy2(entry, tmp / entry.name)
        report = self.report(chosen, met, why)
        summary = {"status": "met" if met else "not met", "chosen": chosen.name, "meets_target": met,
                   "why": why, "wall_s": round(self.elapsed(), 1),
                   "candidates_tried": len([m for m in self.measured if m.tier != "baseline"]),
                   "baseline": self.base_name, "report": str(report), "output_dir": str(self.out),
                   "chosen_search": chosen.search}
        self._write_state(**summary)
        self.log(f"{'chose' if met else 'kept (not meeting the target)'} {chosen.name}; model in {self.out}; "
                 f"report: {report}")
        return summary

    @staticmethod
    def _shortfall_text(name: str, v: dict[str, Any]) -> str:
        if name == "max_drop":
            return f"max_drop: lost {v['value']:.2f} points, {v['value'] - v['limit']:.2f} more than {v['limit']:g}"
        if name == "target_speedup":
            return f"target_speedup: x{v['value']:.2f}, short of x{v['limit']:g} by x{v['limit'] - v['value']:.2f}"
        return f"{name}: {v['value']:.2f} {v['unit']}, {v['value'] - v['limit']:.2f} {v['unit']} over {v['limit']:g}"

    def report(self, chosen: Measured, met: bool, why: str) -> Path:
        from hfcompress.report import build_report

        c = self.cfg
        base = next(m for m in self.measured if m.name == self.base_name)
        budget: dict[str, float] = {"metric_floor": self.reference_metric - c.max_drop / 100.0}
        if c.max_latency_ms is not None:
            budget["latency_ms"] = c.max_latency_ms
        elif c.target_speedup is not None:
            budget["latency_ms"] = base.record["efficiency"]["latency_ms_median"] / c.target_speedup
        if c.max_size_mb is not None:
            budget["size_mib"] = c.max_size_mb
        marks = {chosen.name: " (chosen)" if met else " (closest, NOT meeting the target)"}
        files = [str(m.record_file) for m in self.measured]
        return build_report(files, self.out / "report", baseline=self.base_name,
                            title=f"hfcompress compress: {self.task.name}", budget=budget, marks=marks,
                            notes=f"**Why this model.** {why}")


def search(cfg: CompressConfig, *, resume: bool = False, overwrite: bool = False,
           echo: Callable[[str], None] = _print) -> dict[str, Any]:
    """Run the search of ``cfg`` (see the module docstring); return its summary (also in OUT/search.json)."""
    return Search(cfg, resume=resume, overwrite=overwrite, echo=echo).run()

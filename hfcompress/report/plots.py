"""Trade-off plots (matplotlib PNG): accuracy vs latency and vs size with the Pareto front marked,
and accuracy vs sparsity. Inputs are report rows only."""

from __future__ import annotations

from pathlib import Path

from hfcompress.errors import HfCompressError
from hfcompress.report.tables import Row, pareto_front


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only, no display
        import matplotlib.pyplot as plt
    except ImportError:
        raise HfCompressError("plots need matplotlib: pip install 'hfcompress[report]'") from None
    return plt


def tradeoff_plot(rows: list[Row], x: str, xlabel: str, path: Path, log_x: bool = False) -> Path:
    plt = _pyplot()
    points = [(getattr(r, x), r.metric) for r in rows]
    front = set(pareto_front(points))
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for i, (r, (px, py)) in enumerate(zip(rows, points)):
        ax.scatter(px, py, s=60 if i in front else 30, marker="*" if r.is_baseline else "o",
                   color="tab:red" if i in front else "tab:gray", zorder=3)
        ax.annotate(r.method, (px, py), textcoords="offset points", xytext=(5, 4), fontsize=8)
    line = sorted(points[i] for i in front)
    if len(line) > 1:
        ax.plot(*zip(*line), color="tab:red", linewidth=1, label="Pareto front", zorder=2)
        ax.legend(loc="lower right", fontsize=8)
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(rows[0].metric_name)
    ax.set_title(f"{rows[0].task}: {rows[0].metric_name} vs {xlabel}")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def sparsity_plot(rows: list[Row], path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    pts = sorted((r.sparsity, r.metric, r.method) for r in rows)
    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o")
    for s, m, name in pts:
        ax.annotate(name, (s, m), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.set_xlabel("weight sparsity")
    ax.set_ylabel(rows[0].metric_name)
    ax.set_title(f"{rows[0].task}: {rows[0].metric_name} vs sparsity")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path

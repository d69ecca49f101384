"""Trade-off plots (matplotlib PNG): accuracy vs latency and vs size with the Pareto front marked,
and accuracy vs sparsity. Inputs are report rows only.

The trade-off plot reads at a glance: the Pareto front is the staircase it is (a model at a cost
between two front points is only as good as the cheaper one, so the front is a step line, not
straight segments), point labels are placed so they do not overlap, the measurement setting (batch
size, threads, CPU) is in the title, and a budget (an accuracy floor, a latency or size limit) is
drawn as lines, so a chosen model's place is obvious.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

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


def pareto_steps(points: Sequence[tuple[float, float]]) -> tuple[list[float], list[float]]:
    """The staircase of the Pareto front (lower x, higher y better): its points sorted by x.

    Drawn with ``ax.step(xs, ys, where="post")``: from each front point the line runs flat (the best
    quality reachable at that cost) until the next, cheaper-is-worse point, then steps up.
    Duplicate points appear once.
    """
    front = sorted({points[i] for i in pareto_front(list(points))})
    return [p[0] for p in front], [p[1] for p in front]


# label placements tried in order (offset in points, horizontal alignment)
_OFFSETS = [(6, 5, "left"), (6, -11, "left"), (-6, 5, "right"), (-6, -11, "right"), (6, 16, "left"),
            (-6, 16, "right"), (6, -22, "left"), (-6, -22, "right"), (0, 27, "center"), (0, -33, "center")]
_ADJACENT = 4  # the first four touch their marker


def place_labels(ax, fig, points: Sequence[tuple[float, float]], labels: Sequence[str], fontsize: int = 8) -> list:
    """Annotate each point with its label at the first offset whose box overlaps no label placed before
    (nor a marker); a simple greedy repel, no extra dependency. Returns the text objects."""
    from matplotlib.text import Text

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    marker_boxes = []
    for px, py in points:
        x, y = ax.transData.transform((px, py))
        marker_boxes.append((x - 4, y - 4, x + 4, y + 4))
    placed: list[tuple[float, float, float, float]] = []
    texts = []
    frame = ax.get_window_extent(renderer)

    def inside(box):
        return box[0] >= frame.x0 and box[2] <= frame.x1 and box[1] >= frame.y0 and box[3] <= frame.y1

    def overlaps(box, others, pad=2.0):  # a little air between labels (extents shift by a pixel when drawn)
        return any(box[0] - pad < o[2] and box[2] + pad > o[0] and box[1] - pad < o[3] and box[3] + pad > o[1]
                   for o in others)

    def extent(t):  # the text itself, without its leader line
        t.update_positions(renderer)  # an annotation's offset is applied at draw time: apply it now
        bb = Text.get_window_extent(t, renderer)
        return (bb.x0, bb.y0, bb.x1, bb.y1)

    # near placements first; then further out, with a leader line back to the point (from the fifth on)
    far = [(dx, dy, ha) for dy in (38, -44, 49, -55, 60, -66, 71, -77, 82, -88)
           for dx, ha in ((24, "left"), (-24, "right"), (0, "center"))]
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    for i in order:
        others = [m for j, m in enumerate(marker_boxes) if j != i]
        best, fallback = None, None
        for k, (dx, dy, ha) in enumerate(_OFFSETS + far):
            # beyond the four placements touching the marker, a leader line says which point a label is
            # for (three teachers at one accuracy otherwise read as each other's labels)
            leader = {"arrowprops": {"arrowstyle": "-", "color": "0.6", "lw": 0.6}} if k >= _ADJACENT else {}
            t = ax.annotate(labels[i], points[i], textcoords="offset points", xytext=(dx, dy), fontsize=fontsize,
                            ha=ha, zorder=4, **leader)
            box = extent(t)
            if inside(box) and not overlaps(box, placed) and not overlaps(box, others):
                best = (t, box)
                break
            # a label outside the axes is cut off or runs into the title: worse than touching another label
            clashes = sum(overlaps(box, [o]) for o in placed) + (0 if inside(box) else 100)
            if fallback is None or clashes < fallback[0]:
                fallback = (clashes, dx, dy, ha, leader)
            t.remove()
        if best is None:  # crowded everywhere: the placement with the fewest clashes
            _, dx, dy, ha, leader = fallback
            t = ax.annotate(labels[i], points[i], textcoords="offset points", xytext=(dx, dy), fontsize=fontsize,
                            ha=ha, zorder=4, **leader)
            best = (t, extent(t))
        texts.append(best[0])
        placed.append(best[1])
    return texts


def tradeoff_plot(rows: list[Row], x: str, xlabel: str, path: Path, log_x: bool = False, *,
                  setting: Optional[str] = None, metric_floor: Optional[float] = None,
                  x_limit: Optional[float] = None, x_limit_label: Optional[str] = None,
                  chosen: Optional[str] = None) -> Path:
    """Metric vs ``x`` (a Row attribute); ``setting``: "batch 32, 2 threads, <CPU>" for the title;
    ``metric_floor`` / ``x_limit``: a budget drawn as lines; ``chosen``: the method label to ring."""
    plt = _pyplot()
    points = [(getattr(r, x), r.metric) for r in rows]
    front = set(pareto_front(points))
    fig, ax = plt.subplots(figsize=(7.5, 5.0))
    for i, (r, (px, py)) in enumerate(zip(rows, points)):
        ax.scatter(px, py, s=80 if r.is_baseline else (50 if i in front else 30),
                   marker="*" if r.is_baseline else "o", color="tab:red" if i in front else "tab:gray", zorder=3)
        if chosen is not None and r.method.startswith(chosen):
            ax.scatter(px, py, s=220, facecolors="none", edgecolors="tab:green", linewidths=2, zorder=3,
                       label="chosen")
    xs, ys = pareto_steps(points)
    if len(xs) > 1:
        ax.step(xs, ys, where="post", color="tab:red", linewidth=1.2, label="Pareto front", zorder=2)
    if metric_floor is not None:
        ax.axhline(metric_floor, color="tab:blue", linestyle="--", linewidth=1,
                   label=f"accuracy floor {metric_floor:.4f}")
    if x_limit is not None:
        ax.axvline(x_limit, color="tab:purple", linestyle=":", linewidth=1.2,
                   label=x_limit_label or f"limit {x_limit:g}")
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(rows[0].metric_name)
    title = f"{rows[0].task}: {rows[0].metric_name} vs {xlabel}"
    if setting:
        title += f"\n{setting}"
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.margins(x=0.2, y=0.2)  # room for the labels inside the axes
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    place_labels(ax, fig, points, [r.method for r in rows])
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def sparsity_plot(rows: list[Row], path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    pts = sorted((r.sparsity, r.metric, r.method) for r in rows)
    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o")
    ax.set_xlabel("weight sparsity")
    ax.set_ylabel(rows[0].metric_name)
    ax.set_title(f"{rows[0].task}: {rows[0].metric_name} vs sparsity")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    place_labels(ax, fig, [(p[0], p[1]) for p in pts], [p[2] for p in pts])
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path

"""The report's trade-off plot: a step-line Pareto front, labels without overlap, setting and budget drawn."""

import matplotlib

matplotlib.use("Agg")

from hfcompress.report.plots import pareto_steps, place_labels, tradeoff_plot  # noqa: E402
from hfcompress.report.tables import Row  # noqa: E402


def row(name, latency, metric, size=10.0, baseline=False):
    return Row(method=name, model=name, task="sst2", metric_name="accuracy", metric=metric, metric_change=None,
               size_mib=size, size_reduction=None, parameters=1, sparsity=0.0, latency_ms=latency, speedup=None,
               throughput=1.0, comparable=True, is_baseline=baseline)


def test_pareto_steps_is_the_staircase_of_non_dominated_points():
    points = [(10.0, 0.90), (5.0, 0.88), (6.0, 0.85), (2.0, 0.80), (2.0, 0.80), (12.0, 0.89), (1.0, 0.70)]
    xs, ys = pareto_steps(points)
    assert xs == [1.0, 2.0, 5.0, 10.0] and ys == [0.70, 0.80, 0.88, 0.90]  # sorted by cost, quality rising
    assert pareto_steps([(3.0, 0.5)]) == ([3.0], [0.5])


def test_tradeoff_plot_draws_step_front_budget_and_setting(tmp_path, monkeypatch):
    import matplotlib.axes

    calls = {}
    for name in ("step", "axhline", "axvline", "set_title"):
        original = getattr(matplotlib.axes.Axes, name)

        def spy(self, *a, _name=name, _orig=original, **kw):
            calls.setdefault(_name, []).append((a, kw))
            return _orig(self, *a, **kw)

        monkeypatch.setattr(matplotlib.axes.Axes, name, spy)
    rows = [row("baseline", 10, 0.90, baseline=True), row("q", 5, 0.89), row("p", 6, 0.85), row("d", 2, 0.80)]
    path = tradeoff_plot(rows, "latency_ms", "latency (ms)", tmp_path / "lat.png",
                         setting="batch 32, 2 thread(s), CPU X", metric_floor=0.89, x_limit=5.0, chosen="q")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (xs, ys), kw = calls["step"][0][0][:2], calls["step"][0][1]
    assert list(xs) == [2, 5, 10] and list(ys) == [0.80, 0.89, 0.90] and kw["where"] == "post"
    assert calls["axhline"][0][0][0] == 0.89 and calls["axvline"][0][0][0] == 5.0
    assert "batch 32, 2 thread(s), CPU X" in calls["set_title"][0][0][0]


def test_labels_do_not_overlap():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    points = [(1.0 + 0.01 * i, 0.8 + 0.001 * i) for i in range(6)] + [(3.0, 0.9)]
    ax.scatter(*zip(*points))
    ax.margins(0.3)
    texts = place_labels(ax, fig, points, [f"candidate-{i}+torch-dynamic" for i in range(len(points))])
    renderer = fig.canvas.get_renderer()
    from matplotlib.text import Text

    fig.canvas.draw()
    boxes = [Text.get_window_extent(t, renderer) for t in texts]  # the text, without a leader line
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b)
    plt.close(fig)


def test_labels_stay_inside_the_axes():
    """Points at the edges (a baseline far right, the best model at the top): every label stays in the frame."""
    import matplotlib.pyplot as plt
    from matplotlib.text import Text

    fig, ax = plt.subplots(figsize=(7.5, 5.0))
    points = [(9.8, 0.734), (4.1, 0.733), (2.9, 0.736), (3.1, 0.735), (1.8, 0.65), (2.8, 0.655), (2.0, 0.57),
              (2.2, 0.37), (2.8, 0.17)]
    labels = ["teacher-pytorch-fp32", "teacher-onnx-fp32", "torch-static (closest, NOT meeting the target)",
              "onnx-static", "drop_layers-4-recovered+torch-static", "drop_layers-2+torch-static",
              "drop_layers-3+torch-static", "channels-0.5-recovered+torch-static", "channels-0.25+torch-static"]
    ax.scatter(*zip(*points))
    ax.set_title("cifar10: accuracy vs latency\nbatch 32, 1 thread(s), CPU")
    ax.margins(x=0.2, y=0.2)
    fig.tight_layout()
    texts = place_labels(ax, fig, points, labels)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    for t in texts:
        box = Text.get_window_extent(t, renderer)
        assert frame.x0 - 1 <= box.x0 and box.x1 <= frame.x1 + 1 and frame.y0 - 1 <= box.y0 and box.y1 <= frame.y1 + 1, \
            t.get_text()
    plt.close(fig)


def test_a_label_not_touching_its_point_has_a_leader_line():
    """Three models at one accuracy, close together (the teacher on three runtimes): each label either
    touches its marker or is joined to it by a line."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5.0))
    points = [(445.0, 0.8704), (488.0, 0.8704), (568.0, 0.8704), (100.0, 0.855), (176.0, 0.865)]
    labels = ["teacher, ONNX Runtime fp32 + transformer fusions (O2)", "teacher, ONNX Runtime fp32",
              "teacher, PyTorch eager", "fast", "headline"]
    ax.scatter(*zip(*points))
    ax.margins(x=0.2, y=0.2)
    texts = place_labels(ax, fig, points, labels)
    for t in texts:
        dx, dy = t.xyann
        if abs(dy) > 11 or abs(dx) > 6:
            assert t.arrow_patch is not None, t.get_text()
    assert any(t.arrow_patch is not None for t in texts)  # the layout is crowded enough to need one
    plt.close(fig)

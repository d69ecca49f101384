"""Re-time saved models side by side, interleaved, in one run: latency ratios that survive a noisy machine.

    python benchmarks/speed.py --task sst2 --name speed_sst2 BASELINE_DIR OTHER_DIR [OTHER_DIR ...]

Each model is loaded through hfcompress's loader; one fixed batch of the task's evaluation data (at each
``--batch-sizes``) is timed with all models alternating round by round
(``hfcompress.evaluation.efficiency.interleaved_latency``). Accuracy is not re-measured here: take it
from each model's own evaluation record. Writes benchmarks/results/<name>.{json,md}.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import require_mirror, write_results

from hfcompress.evaluation.efficiency import environment, interleaved_latency, set_threads, size_on_disk
from hfcompress.hub import load
from hfcompress.tasks import get_task
from hfcompress.tasks.batches import batches as task_batches


def describe(lm) -> dict:
    """What every timing result says of a loaded model besides its latency."""
    return {"path": str(lm.path), "loader": lm.loader, "size_on_disk_bytes": size_on_disk(lm.weight_files()),
            "methods": lm.record.methods if lm.record else []}


def time_models(task, models: dict[str, str], batch_sizes: list[int], rounds: int) -> tuple[dict, list[str]]:
    """Load each model (name -> folder) through hfcompress's loader and time them interleaved on one fixed
    batch per batch size; the first is the baseline. Returns (per-model results, Markdown lines)."""
    loaded = {name: load(path, task=task) for name, path in models.items()}
    names = list(loaded)
    base = names[0]
    results = {name: describe(lm) for name, lm in loaded.items()}
    lines = []
    for bs in batch_sizes:
        # the same seeded sample of ``bs`` evaluation rows, preprocessed for each model
        batches = {name: next(task_batches(task, task.eval_splits[0], lm.preprocessor, batch_size=bs, limit=bs,
                                           labels=False)) for name, lm in loaded.items()}
        timing = interleaved_latency({n: (lambda n=n: loaded[n].predict(batches[n])) for n in names}, rounds=rounds)
        for name in names:
            t = timing[name]
            t["speedup"] = timing[base]["latency_ms_median"] / t["latency_ms_median"]
            t["throughput_examples_per_s"] = bs / (t["latency_ms_median"] / 1000)
            results[name][f"batch_{bs}"] = t
        lines.append(f"\n### Batch {bs}\n\n| model | latency median (ms) | p90 (ms) | speed-up vs {base} | throughput (ex/s) |\n"
                     "| --- | ---: | ---: | ---: | ---: |")
        lines += [f"| {n} | {timing[n]['latency_ms_median']:.2f} | {timing[n]['latency_ms_p90']:.2f} | "
                  f"{timing[n]['speedup']:.2f}x | {timing[n]['throughput_examples_per_s']:.1f} |" for n in names]
    return results, lines


def split_workloads(task, preprocessor, split: str, *, single: int = 100, batch_size: int = 32,
                    limit: int | None = None) -> dict[str, list]:
    """The serving workloads of a whole evaluation split, collated for one model (labels dropped):

    - ``batch_1``: the first ``single`` sentences one by one;
    - ``batch_32``: every row in batches of ``batch_size`` in split order, each padded to its own longest
      row (dynamic padding);
    - ``batch_32_sorted``: the same rows sorted by length first (sequence-length bucketing, what serving
      code does so that batches pad less; a property of the serving code, not of the model).
    """
    from hfcompress.tasks.batches import collated, preprocessed

    data = preprocessed(task, split, preprocessor, seed=None)
    if limit is not None:  # a smoke run: the first rows only
        data = data.select(range(min(limit, len(data))))
    lengths = [len(ids) for ids in data["input_ids"]]
    order = sorted(range(len(data)), key=lengths.__getitem__)
    rows = {"batch_1": (data.select(range(min(single, len(data)))), 1), "batch_32": (data, batch_size),
            "batch_32_sorted": (data.select(order), batch_size)}
    return {kind: list(collated(task, d, preprocessor, batch_size=bs, labels=False)) for kind, (d, bs) in rows.items()}


def time_split_passes(task, models: dict[str, str], split: str, rounds: int, single: int = 100,
                      limit: int | None = None, processes: bool = True) -> dict:
    """Time whole passes over a split's serving workloads (:func:`split_workloads`), all models alternating
    round by round; per workload the median pass time, and per call (sentence or batch) its share.

    ``processes``: each model is loaded and run in a process of its own (one model per serving process,
    as it would be deployed), and the parent only says which pass to run next; ``False``: all in this
    process, where PyTorch's OpenMP pool and every ONNX Runtime session's pool share the cores (on the
    2-core VNNI EPYC the two gave the same ratios within noise: perf_sst2 vs perf_sst2_same_process). Models are loaded after the caller fixed the
    thread count (ONNX Runtime reads it at load); each process gets that count.
    """
    runners = (_process_runners if processes else _local_runners)(task, models, split, single, limit)
    try:
        results = {name: r.describe for name, r in runners.items()}
        for kind in KIND_ORDER:
            timing = interleaved_latency({n: (lambda r=r: r.run_pass(kind)) for n, r in runners.items()},
                                         rounds=rounds, warmup=1)
            for name, t in timing.items():
                calls, rows = runners[name].counts[kind]
                results[name][kind] = {"pass_ms_median": t["latency_ms_median"], "pass_ms_p90": t["latency_ms_p90"],
                                       "calls": calls, "rows": rows, "rounds": rounds,
                                       "ms_per_call": t["latency_ms_median"] / calls,
                                       "throughput_examples_per_s": rows / (t["latency_ms_median"] / 1000),
                                       "own_process": processes}
    finally:
        for r in runners.values():
            r.close()
    return results


KIND_ORDER = ("batch_1", "batch_32", "batch_32_sorted")  # the keys of split_workloads


class _PassRunner:
    """One model's workloads, run a pass at a time (here, or in a process of its own)."""

    def __init__(self, task, path: str, split: str, single: int, limit: int | None):
        self.model = load(path, task=task)
        self.work = split_workloads(task, self.model.preprocessor, split, single=single, limit=limit)
        self.describe = describe(self.model)
        self.counts = {k: (len(b), sum(len(x["input_ids"]) for x in b)) for k, b in self.work.items()}

    def run_pass(self, kind: str) -> None:
        for batch in self.work[kind]:
            self.model.predict(batch)

    def close(self) -> None:
        pass


def _local_runners(task, models, split, single, limit) -> dict:
    return {name: _PassRunner(task, path, split, single, limit) for name, path in models.items()}


def _serve(conn, task, path, split, single, limit, threads) -> None:
    """A timing process: load one model, report what it is, then run each pass the parent names."""
    set_threads(threads)
    runner = _PassRunner(task, path, split, single, limit)
    conn.send((runner.describe, runner.counts))
    while (kind := conn.recv()) is not None:
        runner.run_pass(kind)
        conn.send(None)


class _RemoteRunner:
    def __init__(self, ctx, task, path, split, single, limit, threads):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, task, path, split, single, limit, threads),
                                   daemon=True)
        self.process.start()

    def ready(self, path: str) -> None:
        try:
            self.describe, self.counts = self.conn.recv()
        except EOFError:
            raise RuntimeError(f"the timing process for {path} died while loading it (its traceback is above)") from None

    def run_pass(self, kind: str) -> None:
        self.conn.send(kind)
        self.conn.recv()

    def close(self) -> None:
        if self.process.is_alive():
            self.conn.send(None)
            self.process.join(30)


def _process_runners(task, models, split, single, limit) -> dict:
    import multiprocessing
    import torch

    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: no thread pools inherited
    runners = {}
    for name, path in models.items():  # loaded one after another: loading is not timed, but it is heavy
        runners[name] = _RemoteRunner(ctx, task, path, split, single, limit, torch.get_num_threads())
        runners[name].ready(path)
    return runners


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+", help="model folders; the first is the baseline")
    ap.add_argument("--task", required=True)
    ap.add_argument("--name", required=True, help="results file stem")
    ap.add_argument("--batch-sizes", default="1,32")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    require_mirror()
    threads = set_threads(args.threads)
    task = get_task(args.task)
    names = [Path(m).name for m in args.models]
    models, lines = time_models(task, dict(zip(names, args.models)), [int(b) for b in args.batch_sizes.split(",")],
                                args.rounds)
    results = {"task": task.name, "baseline": names[0], "models": models, "environment": environment(threads)}
    env = results["environment"]
    sizes = "\n".join(f"| {n} | {', '.join(models[n]['methods']) or '-'} | "
                      f"{models[n]['size_on_disk_bytes'] / 2**20:.1f} |" for n in names)
    md = (f"# Interleaved timing on {task.name}\n\nCommand: `python benchmarks/speed.py --task {task.name} "
          f"--name {args.name} {' '.join(args.models)}`\n\n{threads} threads, {env['cpu']}, torch {env['torch']}, "
          f"transformers {env['transformers']}; {args.rounds} rounds, models alternating each round.\n\n"
          f"| model | stages | size (MiB) |\n| --- | --- | ---: |\n{sizes}\n" + "\n".join(lines) + "\n")
    write_results(args.name, results, md)
    print(md)


if __name__ == "__main__":
    main()


import torch

from hfcompress.evaluation.efficiency import environment, measure_latency, parameter_stats, size_on_disk


def test_parameter_stats_counts_zeros():
    w = torch.ones(4, 5)
    w[:2] = 0  # 10 of 20 zero
    b = torch.zeros(5)  # all zero, but 1-D: not a weight matrix
    stats = parameter_stats([("w", w), ("b", b)])
    assert stats["parameters"] == 25 and stats["nonzero_parameters"] == 10
    assert stats["sparsity"] == 1 - 10 / 25
    assert stats["weight_sparsity"] == 0.5


def test_latency_stats_are_ordered():
    calls = []
    out = measure_latency(lambda: calls.append(sum(range(1000))), warmup=2, repeats=7)
    assert len(calls) == 9
    assert 0 < out["latency_ms_median"] <= out["latency_ms_p90"]


def test_size_on_disk(tmp_path):
    (tmp_path / "a").write_bytes(b"x" * 100)
    (tmp_path / "b").write_bytes(b"x" * 23)
    assert size_on_disk([tmp_path / "a", tmp_path / "b"]) == 123


def test_environment_names_versions_and_threads():
    env = environment(threads=2)
    assert env["threads"] == 2 and env["torch"] == torch.__version__ and env["cpu"]


def test_interleaved_latency_ranks_a_slower_function_slower():
    import time

    from hfcompress.evaluation.efficiency import interleaved_latency

    out = interleaved_latency({"fast": lambda: None, "slow": lambda: time.sleep(0.004)}, rounds=5, warmup=1)
    assert set(out) == {"fast", "slow"} and out["slow"]["latency_repeats"] == 5
    assert out["slow"]["latency_ms_median"] > out["fast"]["latency_ms_median"] + 3

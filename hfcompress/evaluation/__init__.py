"""Evaluation: official task metrics plus latency, throughput, size, parameters and sparsity."""

from hfcompress.evaluation.run import evaluate_loaded, evaluate_model, format_table, write_json

__all__ = ["evaluate_loaded", "evaluate_model", "format_table", "write_json"]

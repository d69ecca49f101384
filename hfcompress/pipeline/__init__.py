"""Pipelines: distil -> prune -> quantize (any order) as one resumable recipe."""

from hfcompress.pipeline.run import PipelineConfig, run_pipeline

__all__ = ["PipelineConfig", "run_pipeline"]

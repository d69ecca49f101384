"""Sweeps: a recipe whose numeric fields hold lists runs as a resumable grid."""

from hfcompress.sweep.grid import Point, expand, load_sweep
from hfcompress.sweep.run import run_sweep

__all__ = ["Point", "expand", "load_sweep", "run_sweep"]

"""Reports: comparison tables and trade-off plots built from evaluation JSON records only."""

from hfcompress.report.build import build_report
from hfcompress.report.tables import build_rows, pareto_front, read_records

__all__ = ["build_report", "build_rows", "pareto_front", "read_records"]

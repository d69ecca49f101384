"""``hfcompress compress``: say the budget, get the best model — a measured search over pipelines.

See :mod:`hfcompress.search.run` for the search, :mod:`hfcompress.search.candidates` for the
candidate pipelines and :mod:`hfcompress.search.config` for the budget.
"""

from hfcompress.search.config import CompressConfig, FinetuneOptions, parse_duration

__all__ = ["CompressConfig", "FinetuneOptions", "parse_duration", "search"]


def search(cfg, **kwargs):
    """Run the search (see :func:`hfcompress.search.run.search`)."""
    from hfcompress.search.run import search as _search

    return _search(cfg, **kwargs)

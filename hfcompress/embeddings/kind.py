"""The embedding-model kind: the one place that decides a model is a sentence-transformers embedding model.

:mod:`hfcompress.methods.registry` (``MODEL_KINDS``) asks :meth:`SentenceEmbedding.claims` about a
method's input model and task; a claimed model runs the kind's runner for the family
(:mod:`hfcompress.embeddings.runners`), is evaluated on the kind's view of the task
(:class:`~hfcompress.embeddings.task.SimilarityTask`: cosine similarity of the embeddings), and
loads through the kind's loader (:mod:`hfcompress.embeddings.loader`).

Claimed: a sentence-transformers folder (``modules.json``, a headless encoder) with a sentence-pair
similarity task (``stsb``, or your own pairs with a float label). A folder hfcompress wrote as an
embedding model is claimed for any task, and a task it cannot be scored on is refused in one line.
The original checkpoint with another task (``train --task sst2 --model all-MiniLM-L6-v2``) is not
claimed: it is the encoder a classifier is fine-tuned from, as before.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Optional

from hfcompress.embeddings.task import SimilarityTask, is_similarity_task

RUNNERS = {"train": "train", "distill": "distill", "prune": "prune", "quantize": "quantize"}


def _folder(model) -> Optional[Path]:
    """The local folder of a model given by path or Hub id (already cached, or fetched)."""
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    from hfcompress.errors import HfCompressError
    from hfcompress.hub.load import resolve_model_dir

    try:
        return resolve_model_dir(str(model))
    except HfCompressError:
        return None  # the method's own loader reports it


def _written_by_hfcompress(folder: Path) -> bool:
    try:
        return "hfcompress" in json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return False


class SentenceEmbedding:
    name = "sentence-embedding"

    def claims(self, model, task) -> bool:
        """Whether ``model`` (path, Hub id or LoadedModel) with ``task`` (a Task, name or spec) is this kind."""
        from hfcompress.embeddings.loader import EmbeddingLoaded
        from hfcompress.embeddings.model import is_sentence_transformer

        if not isinstance(model, (str, Path)):  # an in-memory model: what its loader made of it
            return isinstance(model, EmbeddingLoaded)
        folder = _folder(model)
        if folder is None or not is_sentence_transformer(folder):
            return False
        return self._similarity(task) or _written_by_hfcompress(folder)

    @staticmethod
    def _similarity(task) -> bool:
        if task is None:
            return False
        if isinstance(task, SimilarityTask):
            return True
        from hfcompress.errors import HfCompressError
        from hfcompress.tasks import get_task

        try:
            return is_similarity_task(task if hasattr(task, "modality") else get_task(task))
        except HfCompressError:
            return False  # a bad task is reported by the method, naming its field

    def task(self, task) -> SimilarityTask:
        """How this kind is scored on ``task`` (one line if it cannot be)."""
        return SimilarityTask(task)

    def runner(self, family: str) -> Optional[Callable[..., Any]]:
        """The kind's runner for ``family``; None: the family's own."""
        if family not in RUNNERS:
            return None
        from hfcompress.embeddings import runners

        return getattr(runners, RUNNERS[family])

"""Sentence-transformers embedding models (all-MiniLM-L6-v2 is one), compressed as embedding models.

One concept in one place: :mod:`~hfcompress.embeddings.kind` decides that a method's input is an
embedding model (a sentence-transformers folder with a sentence-pair similarity task, or one
hfcompress wrote); the method registry then runs this package's runners
(:mod:`~hfcompress.embeddings.runners`: distill on embeddings, prune, quantize), evaluation scores the
model by the cosine similarity of its embeddings (:mod:`~hfcompress.embeddings.task`, MTEB's STS
protocol), and the loader plugin (:mod:`~hfcompress.embeddings.loader`) reads the folders back. Every
output keeps the pooling, has no classifier, and is a sentence-transformers folder
(:mod:`~hfcompress.embeddings.model`): ``SentenceTransformer(path)`` loads it (ONNX / INT8 folders
with ``trust_remote_code=True``, through :mod:`~hfcompress.embeddings.st_module`).
"""

from hfcompress.embeddings.model import (EmbeddingModelError, StLayout, is_sentence_transformer, pool,  # noqa: F401
                                         read_layout)
from hfcompress.embeddings.task import SimilarityTask, is_similarity_task  # noqa: F401

"""A sentence-pair similarity task as an embedding model is scored on it (MTEB's STS protocol).

The GLUE task ``stsb`` (or your own data with two text columns and a float label) trains a
cross-encoder: both sentences in one input, a regression head. An embedding model is scored
instead by embedding each sentence on its own and correlating the cosine similarity of the two
embeddings with the gold score (Spearman is MTEB's main STS score; Pearson too). This wrapper keeps
the task's data, splits, metric and name, and changes only how rows become model inputs: each side
is tokenised and padded separately (``a_input_ids``, ``b_input_ids`` ...), and the loaded embedding
model's ``predict`` returns the cosine similarities, so hfcompress's evaluation runs unchanged.
"""

from __future__ import annotations

from typing import Any, Callable

from hfcompress.errors import TaskError

SIDES = ("a", "b")


def is_similarity_task(task) -> bool:
    """Text, a float label, two text columns: what an embedding model can be scored on."""
    return (getattr(task, "modality", None) == "text" and getattr(task, "is_regression", False)
            and len(getattr(task, "text_columns", ())) == 2)


class SimilarityTask:
    """``task`` as an embedding model is evaluated on it; every other attribute is the task's own."""

    def __init__(self, task):
        if isinstance(task, SimilarityTask):
            task = task.base
        if not is_similarity_task(task):
            raise TaskError(f"task {task.name!r}: an embedding model is scored on sentence-pair similarity (two text "
                            "columns, a float label: stsb or your own pairs); this task is not")
        self.base = task

    def __getattr__(self, name: str) -> Any:
        return getattr(self.base, name)

    def __repr__(self) -> str:
        return f"SimilarityTask({self.base.name!r})"

    @property
    def main_metric(self) -> str:
        return "spearmanr"  # MTEB's main STS score (the cross-encoder task's is Pearson)

    def check_model_labels(self, config) -> None:
        """An embedding model has no classifier: nothing to check."""

    def preprocess(self, ds, preprocessor, max_length: int = 128, train: bool = False):
        cols, label = self.base.text_columns, self.base.label_column

        def encode(batch):
            out = {}
            for side, col in zip(SIDES, cols):
                for key, value in preprocessor(batch[col], truncation=True, max_length=max_length).items():
                    out[f"{side}_{key}"] = value
            out["labels"] = batch[label]
            return out

        return ds.map(encode, batched=True, remove_columns=ds.column_names, desc=f"tokenizing {self.name} pairs",
                      load_from_cache_file=False)

    def collator(self, preprocessor) -> Callable:
        from transformers import DataCollatorWithPadding

        pad = DataCollatorWithPadding(preprocessor)

        def collate(features: list[dict]) -> dict:
            import torch

            batch = {}
            for side in SIDES:
                prefix = f"{side}_"
                padded = pad([{k[len(prefix):]: v for k, v in f.items() if k.startswith(prefix)} for f in features])
                batch.update({prefix + k: v for k, v in padded.items()})
            if "labels" in features[0]:
                batch["labels"] = torch.tensor([float(f["labels"]) for f in features])
            return batch

        return collate

    def texts(self, split: str, limit=None, mirror=None, seed: int = 0) -> list[str]:
        """The distinct sentences of a split (both columns), for distillation and vocabulary pruning."""
        raw = self.base.load(split, limit=limit, mirror=mirror, shuffle_seed=seed)
        return list(dict.fromkeys(t for col in self.base.text_columns for t in raw[col]))


def side(batch: dict, name: str) -> dict:
    """One sentence of each pair: the ``a_`` or ``b_`` inputs of a collated pair batch, unprefixed."""
    prefix = f"{name}_"
    return {k[len(prefix):]: v for k, v in batch.items() if k.startswith(prefix)}

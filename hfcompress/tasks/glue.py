"""GLUE tasks (``nyu-mll/glue``), one config each, with the official metric per task."""

from __future__ import annotations

import dataclasses
from typing import Optional

from typing import TYPE_CHECKING

from hfcompress.errors import ModelLoadError
from hfcompress.tasks.base import Task

if TYPE_CHECKING:
    import datasets


@dataclasses.dataclass(frozen=True)
class TextClassificationTask(Task):
    text_columns: tuple[str, ...] = ("sentence",)
    modality = "text"

    @property
    def model_class(self):
        from transformers import AutoModelForSequenceClassification

        return AutoModelForSequenceClassification

    def required_columns(self) -> list[str]:
        return [*self.text_columns, self.label_column]

    def load_preprocessor(self, model_dir: str):
        from transformers import AutoTokenizer

        try:
            return AutoTokenizer.from_pretrained(model_dir)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"no tokenizer found for {model_dir}: {str(exc).splitlines()[0]}") from None

    def preprocess(self, ds: datasets.Dataset, preprocessor, max_length: int = 128,
                   train: bool = False) -> datasets.Dataset:
        cols = self.text_columns
        label = self.label_column

        def encode(batch):
            texts = [batch[c] for c in cols]
            out = preprocessor(*texts, truncation=True, max_length=max_length)
            out["labels"] = batch[label]
            return out

        return ds.map(encode, batched=True, remove_columns=ds.column_names,
                      desc=f"tokenizing {self.name}", load_from_cache_file=False)

    def collator(self, preprocessor):
        from transformers import DataCollatorWithPadding

        return DataCollatorWithPadding(preprocessor)


def _glue(name: str, cols: tuple[str, ...], labels: tuple[str, ...], metric: str,
          eval_splits: tuple[str, ...] = ("validation",), config: Optional[str] = None) -> TextClassificationTask:
    return TextClassificationTask(name=name, hub_id="nyu-mll/glue", hub_config=config or name,
                                  label_names=labels, metric=metric, text_columns=cols, eval_splits=eval_splits)


GLUE_TASKS = {
    t.name: t
    for t in [
        _glue("cola", ("sentence",), ("unacceptable", "acceptable"), "matthews_correlation"),
        _glue("sst2", ("sentence",), ("negative", "positive"), "accuracy"),
        _glue("mrpc", ("sentence1", "sentence2"), ("not_equivalent", "equivalent"), "accuracy_f1"),
        _glue("qqp", ("question1", "question2"), ("not_duplicate", "duplicate"), "accuracy_f1"),
        _glue("stsb", ("sentence1", "sentence2"), (), "pearson_spearman"),
        _glue("mnli", ("premise", "hypothesis"), ("entailment", "neutral", "contradiction"), "accuracy",
              eval_splits=("validation_matched", "validation_mismatched")),
        _glue("qnli", ("question", "sentence"), ("entailment", "not_entailment"), "accuracy"),
        _glue("rte", ("sentence1", "sentence2"), ("entailment", "not_entailment"), "accuracy"),
        _glue("wnli", ("sentence1", "sentence2"), ("not_entailment", "entailment"), "accuracy"),
    ]
}

# Out-of-distribution text for SST-2 models: same two labels, movie reviews from another source.
ROTTEN_TOMATOES = TextClassificationTask(
    name="rotten_tomatoes", hub_id="cornell-movie-review-data/rotten_tomatoes", hub_config=None,
    label_names=("neg", "pos"), metric="accuracy", text_columns=("text",),
    eval_splits=("validation", "test"),
)

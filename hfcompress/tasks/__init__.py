"""Tasks: datasets, preprocessing, collators, metrics and model heads, text and image alike."""

from __future__ import annotations

from hfcompress.errors import TaskError
from hfcompress.tasks.base import Task
from hfcompress.tasks.glue import GLUE_TASKS, ROTTEN_TOMATOES, TextClassificationTask
from hfcompress.tasks.vision import CIFAR10, ImageClassificationTask

TASKS: dict[str, Task] = {**GLUE_TASKS, ROTTEN_TOMATOES.name: ROTTEN_TOMATOES, CIFAR10.name: CIFAR10}


def get_task(name: str) -> Task:
    try:
        return TASKS[name.lower()]
    except KeyError:
        raise TaskError(f"unknown task {name!r}; known tasks: {', '.join(sorted(TASKS))}") from None


__all__ = ["TASKS", "Task", "TextClassificationTask", "ImageClassificationTask", "get_task"]

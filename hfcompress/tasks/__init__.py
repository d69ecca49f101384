"""Tasks: datasets, preprocessing, collators, metrics and model heads, text and image alike.

A task is a built-in name (:data:`TASKS`: nine GLUE tasks, Rotten Tomatoes, CIFAR-10) or a task
described by its data (:class:`TaskSpec`, or its dict: ``{dataset: ..., text_columns: [...] ...}``);
:func:`get_task` takes either and returns a :class:`Task`. Records store ``task.describe()``
(the name, or the resolved spec as a dict); :func:`task_from_record` turns that back into a Task.
"""

from __future__ import annotations

from typing import Any, Optional, Union

# hfcompress.config first: its recipes may type a ``task`` field with TaskSpec (Union[str, TaskSpec]),
# so config imports tasks.spec, and tasks.spec imports config.base; importing the config package
# before tasks.spec makes that cycle harmless whichever package is imported first.
import hfcompress.config  # noqa: F401  isort: skip
from hfcompress.errors import TaskError
from hfcompress.tasks.base import Task
from hfcompress.tasks.glue import GLUE_TASKS, ROTTEN_TOMATOES, TextClassificationTask
from hfcompress.tasks.spec import TaskSpec, task_from_flags, task_key, task_spec_from_flags
from hfcompress.tasks.vision import CIFAR10, ImageClassificationTask

TASKS: dict[str, Task] = {**GLUE_TASKS, ROTTEN_TOMATOES.name: ROTTEN_TOMATOES, CIFAR10.name: CIFAR10}

TaskLike = Union[str, dict, TaskSpec, Task]


def get_task(name_or_spec: TaskLike, mirror: Optional[str] = None) -> Task:
    """A Task from a built-in name, a TaskSpec (or its dict), or a Task (returned as is).

    A spec's data is read and checked here (see :mod:`hfcompress.tasks.custom`); ``mirror`` is
    the dataset mirror for Hub ids (default: ``HFCOMPRESS_DATASETS_MIRROR``).
    """
    if isinstance(name_or_spec, Task):
        return name_or_spec
    if isinstance(name_or_spec, (dict, TaskSpec)):
        from hfcompress.tasks.custom import build_task

        return build_task(name_or_spec, mirror=mirror)
    if not isinstance(name_or_spec, str):
        raise TaskError(f"a task is a name or a dataset description, got {name_or_spec!r}")
    try:
        return TASKS[name_or_spec.lower()]
    except KeyError:
        raise TaskError(f"unknown task {name_or_spec!r}; known tasks: {', '.join(sorted(TASKS))} "
                        "(or describe your own with --dataset)") from None


def task_from_record(value: Any, mirror: Optional[str] = None) -> Task:
    """The Task a record's ``task`` field describes (a built-in name, or a TaskSpec dict)."""
    if isinstance(value, dict):
        return get_task(TaskSpec.from_dict(value, where="record.task"), mirror=mirror)
    if isinstance(value, str):
        return get_task(value)
    raise TaskError(f"record.task: expected a task name or a dataset description, got {value!r}")


__all__ = ["TASKS", "Task", "TaskSpec", "TextClassificationTask", "ImageClassificationTask", "get_task",
           "task_from_record", "task_from_flags", "task_key", "task_spec_from_flags"]

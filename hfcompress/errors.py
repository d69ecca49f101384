"""User-facing errors.

Anything the user can fix (a bad task name, a missing file, a malformed recipe) raises a
subclass of :class:`HfCompressError`. The CLI prints these as one line and exits non-zero,
without a traceback; anything else is a bug and keeps its traceback.
"""


class HfCompressError(Exception):
    """An error caused by user input; its message names the bad field, file or value."""


class ConfigError(HfCompressError):
    """A recipe or config value is unknown, missing or of the wrong type."""


class TaskError(HfCompressError):
    """Unknown task, split, or a model that does not fit the task."""


class DataError(HfCompressError):
    """A dataset file is missing or unreadable."""


class ModelLoadError(HfCompressError):
    """A model path or Hub id cannot be resolved or loaded."""

from pathlib import Path

import pytest

from tests.distill.util import save_tiny_teacher


@pytest.fixture(scope="session")
def tiny_teacher_dir(tmp_path_factory) -> Path:
    """A 4-layer tiny BERT with an SST-2 style head (negative/positive), saved with a tokenizer."""
    return save_tiny_teacher(tmp_path_factory.mktemp("tiny-teacher"))


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every distillation test runs on one thread (fixture ``one_thread`` in tests/conftest.py)."""

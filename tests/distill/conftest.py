from pathlib import Path

import pytest

from tests.distill.util import save_tiny_teacher


@pytest.fixture(scope="session")
def tiny_teacher_dir(tmp_path_factory) -> Path:
    """A 4-layer tiny BERT with an SST-2 style head (negative/positive), saved with a tokenizer."""
    return save_tiny_teacher(tmp_path_factory.mktemp("tiny-teacher"))


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread; with several, a busy shared CPU slows them tenfold."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

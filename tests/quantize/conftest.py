"""Tiny models and helpers for the quantization tests (seconds each, no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import helpers


@pytest.fixture(scope="session")
def tiny_resnet_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-resnet")
    helpers.tiny_resnet().save_pretrained(folder)
    return folder


@pytest.fixture
def in_empty_cwd(tmp_path, monkeypatch) -> Path:
    """Run in an empty working directory, to check that nothing is left in it."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd

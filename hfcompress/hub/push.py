"""Publishing a compressed model folder to the Hugging Face Hub (only when explicitly asked).

The folder is checked first — a complete hfcompress model (config.json with a compression record,
safetensors weights, a model card) — so nothing half-saved is ever published. Upload goes through
``huggingface_hub.HfApi`` (create_repo + upload_folder); only the files the loader reads are sent
(training checkpoints and stray files stay local).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import re

from hfcompress.errors import HfCompressError, ModelLoadError
from hfcompress.hub.load import read_config
from hfcompress.hub.record import RECORD_KEY

REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class PushError(HfCompressError):
    """The upload could not be done (offline, no permission, a bad repo id)."""


UPLOAD_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "*.onnx", "*.onnx_data", "README.md"]


def check_publishable(folder: str | Path) -> Path:
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelLoadError(f"model folder not found: {folder}")
    config = read_config(folder)
    if RECORD_KEY not in config:
        raise ModelLoadError(f"{folder}/config.json has no '{RECORD_KEY}' record: not a model hfcompress saved")
    if not any(folder.glob("*.safetensors")) and not any(folder.glob("*.onnx")):
        raise ModelLoadError(f"{folder} has no .safetensors or .onnx weights")
    if not (folder / "README.md").is_file():
        raise ModelLoadError(f"{folder} has no README.md model card")
    return folder


def push_to_hub(folder: str | Path, repo_id: str, private: bool = True, token: Optional[str] = None,
                commit_message: Optional[str] = None, api=None) -> str:
    """Create ``repo_id`` if needed and upload the model folder; returns the commit URL."""
    from huggingface_hub import HfApi

    folder = check_publishable(folder)
    if not REPO_ID.match(repo_id or ""):
        raise PushError(f"--repo-id: {repo_id!r} is not a Hub repo id (owner/name)")
    if api is None:
        from huggingface_hub import constants

        if constants.HF_HUB_OFFLINE:
            raise PushError("cannot push while offline (HF_HUB_OFFLINE is set); unset it and try again")
    try:
        api = api or HfApi(token=token)
        api.create_repo(repo_id, private=private, exist_ok=True)
        info = api.upload_folder(repo_id=repo_id, folder_path=str(folder), allow_patterns=UPLOAD_PATTERNS,
                                 commit_message=commit_message or f"Upload {folder.name} with hfcompress")
    except HfCompressError:
        raise
    except Exception as exc:  # offline, DNS, HTTP 401/403/5xx, no token ...: one line, not a traceback
        raise PushError(f"push to {repo_id} failed: {_reason(exc)}") from None
    return str(getattr(info, "commit_url", info))


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())  # one line
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__

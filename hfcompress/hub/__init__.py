"""Hub I/O: the compression record, atomic saving, and the loader registry."""

from hfcompress.hub.load import (
    AutoCompressedModel,
    LoadedModel,
    Loader,
    load,
    register_loader,
    resolve_model_dir,
)
from hfcompress.hub.record import RECORD_KEY, CompressionRecord, Stage
from hfcompress.hub.rebuild import rebuild_skeleton
from hfcompress.hub.save import atomic_directory, save_compressed

__all__ = [
    "AutoCompressedModel", "CompressionRecord", "LoadedModel", "Loader", "RECORD_KEY", "Stage",
    "atomic_directory", "load", "register_loader", "rebuild_skeleton", "resolve_model_dir", "save_compressed",
]

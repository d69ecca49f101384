"""Hub I/O: the compression record, atomic saving, and the loader registry."""

from hfcompress.hub.load import (
    AutoCompressedModel,
    LoadedModel,
    Loader,
    load,
    register_loader,
    register_rebuild,
    resolve_model_dir,
)
from hfcompress.hub.record import RECORD_KEY, CompressionRecord, Stage
from hfcompress.hub.save import atomic_directory, save_compressed

__all__ = [
    "AutoCompressedModel", "CompressionRecord", "LoadedModel", "Loader", "RECORD_KEY", "Stage",
    "atomic_directory", "load", "register_loader", "register_rebuild", "resolve_model_dir", "save_compressed",
]

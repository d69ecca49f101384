"""Model construction helpers (architectures trained from scratch)."""

from hfcompress.models.zoo import ARCHITECTURES, is_scratch, scratch_config

__all__ = ["ARCHITECTURES", "is_scratch", "scratch_config"]

"""``quantize(cfg)``: one entry point for every backend, writing one self-describing folder.

Order of work, so that mistakes cost nothing: validate the config (typed), look the method's backend
up in the registry, check that it fits the task's modality and that its optional dependency is
installed, load the float model through hfcompress's loader (so pruned/distilled models work too),
quantize, and publish the output folder atomically with the compression record in its config.json
and a model card (:func:`hfcompress.hub.save.save_compressed`, the save path of every method).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Optional

from hfcompress.errors import ConfigError, HfCompressError
from hfcompress.quantize.config import QuantizeConfig

RECORD_METHOD = "quantize"


def backend(method: str):
    from hfcompress.methods.registry import variant_impl

    return variant_impl("quantize", method)


def check_supported(method: str, modality: str, model_type: Optional[str] = None) -> None:
    """Raise a clear error for a method that does not apply to this kind of model (``model_type``: the
    config's, so the reason can name the family)."""
    backend(method).check_supported(method, modality, model_type)


def _model_type(cfg: QuantizeConfig, model) -> Optional[str]:
    config = getattr(getattr(model, "model", model), "config", None) if model is not None else None
    if config is not None:
        return getattr(config, "model_type", None)
    try:
        import json

        return json.loads((Path(cfg.model) / "config.json").read_text()).get("model_type")
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def quantize(cfg: QuantizeConfig, *, model=None, resume: bool = False, overwrite: bool = False,
             callbacks: Optional[list] = None):
    """Quantize ``cfg.model`` (or the loaded ``model``) with ``cfg.method``; write ``cfg.output_dir``;
    return a :class:`~hfcompress.methods.RunResult`."""
    from hfcompress.evaluation.efficiency import set_threads
    from hfcompress.tasks import get_task

    if resume:
        raise HfCompressError("quantize: --resume does not apply (quantization keeps no checkpoints)")
    from hfcompress.hub.save import check_output_dir, folder_of

    check_output_dir(cfg.output_dir, inputs=[cfg.model, folder_of(model)], overwrite=overwrite)
    task = get_task(cfg.task, mirror=cfg.datasets_mirror)
    impl = backend(cfg.method)
    for name in ("quantize_embeddings", "embedding_bits"):
        if getattr(cfg, name) and task.modality != "text":
            raise ConfigError(f"quantize.{name}: {task.name} is an image task; only text models have "
                              "embedding tables")
    if cfg.method == "auto":
        impl.check_supported(cfg.method, task.modality)
    else:
        impl.check_supported(cfg.method, task.modality, _model_type(cfg, model))
    if cfg.method == "auto":
        return impl.run(cfg, task, model=model, overwrite=overwrite)
    impl.require()
    set_threads(cfg.threads)

    import hfcompress
    from hfcompress.hub.card import model_card
    from hfcompress.hub.record import CompressionRecord
    from hfcompress.hub.save import save_compressed
    from hfcompress.methods.contract import RunResult

    loaded = model if model is not None else hfcompress.load(cfg.model, task=task)
    if (loaded.record is not None and RECORD_METHOD in loaded.record.methods) or loaded.loader != "pytorch":
        raise HfCompressError(f"{cfg.model} is already quantized or not a PyTorch float model (loader "
                              f"{loaded.loader!r}); quantize the float model it came from")
    base = loaded.record or CompressionRecord(base_model=cfg.model, task=task.describe())
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hfcompress-quantize-") as work:
        q = impl.quantize(loaded, task, cfg, Path(work), callbacks=callbacks)
        q.result["seconds"] = round(time.perf_counter() - start, 2)
        record = base.with_stage(RECORD_METHOD, cfg.to_dict(), q.result)
        card = model_card(record, task, title=f"{Path(cfg.output_dir).name} ({task.name}, quantized: {cfg.method})")
        save_compressed(q.model, cfg.output_dir, record, loaded.preprocessor, card=card, config=q.config,
                        write_weights=q.write_weights, overwrite=overwrite)
    return RunResult(Path(cfg.output_dir), record.stages[-1], {"method": cfg.method, **q.result})

"""bitsandbytes 8-bit and 4-bit through BitsAndBytesConfig: close to fp32, exact reload."""

import pytest
import torch

import hfcompress
from hfcompress.quantize import QuantizeConfig, quantize
from hfcompress.quantize.bnb import bnb_config
from hfcompress.tasks import get_task
from tests.quantize.util import assert_close_to_fp32, listing, text_batch

pytest.importorskip("bitsandbytes", reason="pip install bitsandbytes")


@pytest.mark.parametrize("method, options, tolerance", [
    ("bnb-8bit", {}, 0.1),
    ("bnb-4bit", {"bnb_4bit_quant_type": "nf4"}, 0.25),
    ("bnb-4bit", {"bnb_4bit_quant_type": "fp4", "bnb_compute_dtype": "bfloat16"}, 0.3),
])
def test_bnb(method, options, tolerance, tmp_path, in_empty_cwd):
    from tests import helpers

    # 4-bit on CPU quantizes in blocks of 64 inputs: a layer needs at least 64 (hidden 64 here)
    tiny_bert_dir = helpers.save_tiny_bert(tmp_path / "tiny", hidden_size=64)
    task = get_task("sst2")
    fp32 = hfcompress.load(tiny_bert_dir, task=task)
    batch = text_batch(fp32)
    cfg = QuantizeConfig(task="sst2", model=str(tiny_bert_dir), output_dir=str(tmp_path / "bnb"), method=method,
                         **options)
    quantize(cfg)
    loaded = hfcompress.load(tmp_path / "bnb", task=task)
    assert loaded.loader == "bitsandbytes"
    logits = loaded.predict(batch)
    assert_close_to_fp32(fp32.predict(batch), logits.float(), tolerance)
    in_memory = task.model_class.from_pretrained(tiny_bert_dir, quantization_config=bnb_config(cfg), device_map="cpu")
    with torch.inference_mode():
        assert torch.equal(in_memory(**batch).logits, logits)  # save + reload is exact
    assert listing(in_empty_cwd) == []


def test_bnb_4bit_refuses_layers_narrower_than_its_block(tiny_bert_dir, tmp_path):
    from hfcompress.errors import HfCompressError

    cfg = QuantizeConfig(task="sst2", model=str(tiny_bert_dir), output_dir=str(tmp_path / "q"), method="bnb-4bit")
    with pytest.raises(HfCompressError, match="in_features 32 < 64"):
        quantize(cfg)
    assert not (tmp_path / "q").exists()

"""A missing optional backend gives an error naming the fix, before anything is written."""

import json
import sys

import pytest

import hfcompress
from hfcompress.errors import HfCompressError
from hfcompress.quantize import QuantizeConfig, quantize


@pytest.mark.parametrize("module, method, fragment", [
    ("onnxruntime", "onnx-dynamic", r'pip install -e "\.\[onnx\]"'),
    ("bitsandbytes", "bnb-8bit", "pip install bitsandbytes"),
])
def test_missing_backend_names_the_fix(module, method, fragment, monkeypatch, tiny_bert_dir, tmp_path):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    out = tmp_path / "never"
    with pytest.raises(HfCompressError, match=fragment):
        quantize(QuantizeConfig(task="sst2", model=str(tiny_bert_dir), output_dir=str(out), method=method))
    assert not out.exists()


def test_loading_a_bnb_folder_without_bitsandbytes(monkeypatch, tiny_bert_dir, tmp_path):
    folder = tmp_path / "bnb"
    folder.mkdir()
    config = json.loads((tiny_bert_dir / "config.json").read_text())
    config["quantization_config"] = {"quant_method": "bitsandbytes", "load_in_4bit": True}
    (folder / "config.json").write_text(json.dumps(config))
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)
    with pytest.raises(HfCompressError, match="pip install bitsandbytes"):
        hfcompress.load(folder)


def test_loading_an_onnx_folder_without_onnxruntime(monkeypatch, tiny_bert_dir, tmp_path):
    folder = tmp_path / "onnx"
    folder.mkdir()
    (folder / "config.json").write_text((tiny_bert_dir / "config.json").read_text())
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["logits"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1])])
    onnx.save(helper.make_model(graph), str(folder / "model.onnx"))  # a valid graph: only the runtime is missing
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(HfCompressError, match=r'pip install -e "\.\[onnx\]"'):
        hfcompress.load(folder)

"""Family x method conformance: on a tiny random model of every supported family, every method either runs,
saves a folder that reloads through ``hfcompress.load`` with the same outputs (and smaller weights where
the method removes weights), or is refused with one line before anything is written. The expected
outcome of each pair is pinned here; ``scripts/support_matrix.py`` prints the README matrix from the same
cases."""

import pytest

from tests import families as F

# (family, method) pairs that are refused, with a fragment of the reason
REFUSED = {
    **{(f, "prune channels"): "no convolutions" for f in F.TEXT_FAMILIES},
    ("vit", "prune channels"): "patch embedding",
    **{(f, "prune heads"): "no attention heads" for f in ("resnet", "convnext")},
    **{(f, "prune ffn"): "no transformer FFN" for f in ("resnet", "convnext")},
    **{(f, "prune vocab"): "vocabulary" for f in F.IMAGE_FAMILIES},
    ("albert", "prune drop_layers"): "shares one layer's weights",
    **{(f, "quantize torch-static"): "FX static quantization" for f in F.TEXT_FAMILIES},
    **{(f, "quantize torch-static"): "supports transformers ResNet" for f in ("vit", "convnext")},
    **{(f, m): "convolutional network" for f in ("resnet", "convnext")
       for m in ("quantize torch-dynamic", "quantize bnb-8bit", "quantize bnb-4bit")},
    **{(f, "quantize qat"): "supports transformers ResNet" for f in ("vit", "convnext")},
}
# (family, method) pairs that fail today, with the reason: the test fails when they start to pass
KNOWN_FAILURES: dict[tuple[str, str], str] = {}
OPTIONAL = {"quantize bnb-8bit": "bitsandbytes", "quantize bnb-4bit": "bitsandbytes",
            "quantize onnx-dynamic": "onnxruntime", "quantize onnx-static": "onnxruntime"}


def _cases():
    for family in F.FAMILIES:
        for method in F.METHODS:
            marks = [pytest.mark.slow] if method in F.SLOW_METHODS else []
            if (family, method) in KNOWN_FAILURES:
                marks.append(pytest.mark.xfail(reason=KNOWN_FAILURES[family, method], strict=True))
            yield pytest.param(family, method, id=f"{family}-{method.replace(' ', '-')}", marks=marks)


@pytest.fixture(scope="module")
def family_root(tmp_path_factory):
    return tmp_path_factory.mktemp("families")


@pytest.mark.parametrize("family, method", list(_cases()))
def test_family_method(family, method, family_root, use_fixture_mirror):
    if method in OPTIONAL:
        pytest.importorskip(OPTIONAL[method])
    outcome, detail = F.run_case(family, method, family_root)
    expected = REFUSED.get((family, method))
    if expected is None:
        assert outcome == "works", f"expected to work, refused: {detail}"
    else:
        assert outcome == "refused", f"expected a refusal ({expected}), but it ran"
        assert expected in detail
        assert F.FAMILY_NAMES[family] in detail or "model" in detail, detail


@pytest.mark.onnx
@pytest.mark.parametrize("family", ["bert", "distilbert", "deberta-v2", "mpnet", "modernbert", "vit"])
def test_uneven_heads_export_to_onnx(family, family_root, use_fixture_mirror):
    """Head pruning that leaves different head counts per layer reloads and exports to ONNX with the same
    outputs as the pruned PyTorch model."""
    pytest.importorskip("onnxruntime")
    import torch

    import hfcompress
    from tests.quantize.util import image_batch, text_batch

    task = "cifar10" if family in F.IMAGE_FAMILIES else "sst2"
    source = F.save_family(family, family_root / f"{family}-onnx-source")
    pruned = hfcompress.compress(str(source), {"prune": {"method": "heads", "layers": {0: [0, 1, 3]}}}, task=task,
                                 output_dir=family_root / f"{family}-onnx-pruned")
    assert pruned.record.stages[-1].result["heads_per_layer"] == [1, 4]
    onnx = hfcompress.compress(pruned, {"quantize": {"method": "onnx-fp32"}}, task=task,
                               output_dir=family_root / f"{family}-onnx")
    batch = image_batch() if family in F.IMAGE_FAMILIES else text_batch(pruned)
    with torch.inference_mode():
        expected = pruned.predict(batch).float()
    got = hfcompress.load(onnx.path, task=hfcompress.get_task(task)).predict(batch).float()
    assert torch.allclose(expected, got, atol=1e-4, rtol=1e-3), (expected - got).abs().max()

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
       for m in ("quantize torch-dynamic", "quantize bnb-8bit")},
}
OPTIONAL = {"quantize bnb-8bit": "bitsandbytes"}


def _cases():
    for family in F.FAMILIES:
        for method in F.METHODS:
            marks = [pytest.mark.slow] if method in F.SLOW_METHODS else []
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

"""Issue 17, class 3: records and weights are validated before anything is allocated.

Every tampered folder is built here from a valid one; each must give one line naming the file and
field (``hfcompress evaluate`` exits 2), leave the folder byte-identical, and allocate nothing large
(the absurd sizes run in a subprocess under a memory cap).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import hfcompress
from hfcompress.errors import ModelLoadError
from hfcompress.prune import PruneConfig
from hfcompress.prune.api import prune_model, save_pruned
from hfcompress.hub import CompressionRecord
from tests import helpers
from tests.safety.util import copy_model, edit_config, fails_in_one_line, snapshot

REPO = Path(__file__).resolve().parents[2]
MEMORY_CAP = 6 * 1024 ** 3  # virtual memory: torch + transformers import needs ~2-3 GiB


def _pruned(folder: Path, method: str, model=None, task="sst2", **kw) -> Path:
    model = model if model is not None else helpers.tiny_bert(vocab_size=len(helpers.make_tokenizer(folder / "_t")))
    cfg = PruneConfig(task=task, model="m", output_dir=str(folder), method=method, importance="magnitude", **kw)
    if method == "channels":
        batches = [{"pixel_values": torch.randn(2, 3, 32, 32), "labels": torch.tensor([0, 1])}]
    else:
        batches = None
    result = prune_model(model, cfg, batches)
    stage = {"heads": "prune_heads", "ffn": "prune_ffn", "channels": "prune_channels",
             "unstructured": "prune_unstructured"}[method]
    record = CompressionRecord(task=task).with_stage(stage, cfg.to_dict(), result)
    tok = helpers.make_tokenizer(folder.parent / f"_tok-{folder.name}") if task == "sst2" else None
    save_pruned(model, folder, record, tok)
    return folder


@pytest.fixture(scope="module")
def valid(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("valid")
    tok = helpers.make_tokenizer(root / "_tok")
    out = {
        "heads": _pruned(root / "heads", "heads", helpers.tiny_bert(vocab_size=len(tok)), amount=0.5),
        "ffn": _pruned(root / "ffn", "ffn", helpers.tiny_bert(vocab_size=len(tok)), amount=0.5),
        "packed": _pruned(root / "packed", "unstructured", helpers.tiny_bert(vocab_size=len(tok)), amount=0.5),
    }
    pytest.importorskip("torch_pruning")
    out["channels"] = _pruned(root / "channels", "channels", helpers.tiny_resnet(), task="cifar10", amount=0.5)
    return out


def _tampered(valid, kind: str, tmp_path: Path, fn=None) -> Path:
    folder = copy_model(valid[kind], tmp_path / f"tampered-{kind}")
    if fn is not None:
        edit_config(folder, fn)
    return folder


def _refused(folder: Path, capsys, fragment: str, task: str = "sst2") -> str:
    before = snapshot(folder)
    line = fails_in_one_line(["evaluate", "--task", task, "--model", str(folder), "--limit", "2", "--repeats", "1",
                              "--warmup", "0"], capsys, fragment)
    assert snapshot(folder) == before
    return line


def _stage(cfg: dict, i: int = -1) -> dict:
    return cfg["hfcompress"]["stages"][i]


# ---- corrupt weight files ---------------------------------------------------------------------
def test_truncated_safetensors(valid, tmp_path, use_fixture_mirror, capsys):
    folder = _tampered(valid, "heads", tmp_path)
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
    line = _refused(folder, capsys, "model.safetensors: ")
    assert "outside the file" in line or "not a valid safetensors" in line


def test_random_safetensors(valid, tmp_path, use_fixture_mirror, capsys):
    folder = _tampered(valid, "heads", tmp_path)
    (folder / "model.safetensors").write_bytes(random.Random(0).randbytes(4096))
    _refused(folder, capsys, "model.safetensors: not a valid safetensors file")


def test_plain_model_with_truncated_safetensors(tiny_bert_dir, tmp_path, use_fixture_mirror, capsys):
    folder = copy_model(tiny_bert_dir, tmp_path / "plain")
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[:-100])
    _refused(folder, capsys, "model.safetensors: ")


@pytest.mark.parametrize("content", [b"", b"\x08\x01garbage that is no protobuf \xff\xff"], ids=["empty", "corrupt"])
def test_corrupt_or_empty_onnx(tiny_bert_dir, tmp_path, use_fixture_mirror, capsys, content):
    pytest.importorskip("onnx")
    folder = copy_model(tiny_bert_dir, tmp_path / "onnx")
    (folder / "model.safetensors").unlink()
    (folder / "model.onnx").write_bytes(content)
    _refused(folder, capsys, "model.onnx: ")


# ---- the record -------------------------------------------------------------------------------
def test_unknown_stage_method(valid, tmp_path, use_fixture_mirror, capsys):
    folder = _tampered(valid, "heads", tmp_path,
                       lambda c: c["hfcompress"]["stages"].append({"method": "prune_magic", "params": {}, "result": {}}))
    _refused(folder, capsys, "stages[1].method: unknown method 'prune_magic'")


@pytest.mark.parametrize("value, fragment", [
    ("MISMATCH", "stored tensor"),  # valid indices, but counts that do not match the weights
    ([[0, 9], [0, 1]], "out of range"),
    ([[0, -1], [0, 1]], "out of range"),
    ([["a", 1], [0, 1]], "expected a list of integers"),
    ("01", "kept_heads"),
    ([[0, 1]], "one list of head indices per layer"),
])
def test_kept_heads_that_do_not_fit(valid, tmp_path, use_fixture_mirror, capsys, value, fragment):
    def tamper(c):
        kept = _stage(c)["result"]["kept_heads"]
        if value == "MISMATCH":
            kept[0] = kept[0][:-1] if len(kept[0]) > 1 else [0, 1]
        else:
            _stage(c)["result"]["kept_heads"] = value

    folder = _tampered(valid, "heads", tmp_path, tamper)
    _refused(folder, capsys, fragment)


@pytest.mark.parametrize("value, fragment", [
    ([64, 64], "stored tensor"),
    ([65, 32], "out of range"),
    ([-3, 32], "out of range"),
    ([32.5, 32], "expected a list of integers"),
    ([32], "expected 2 entries"),
])
def test_ffn_widths_that_do_not_fit(valid, tmp_path, use_fixture_mirror, capsys, value, fragment):
    folder = _tampered(valid, "ffn", tmp_path, lambda c: _stage(c)["result"].__setitem__("ffn_widths", value))
    _refused(folder, capsys, fragment)


def _first_conv(cfg):
    shapes = _stage(cfg)["result"]["module_shapes"]
    return shapes[next(k for k, v in shapes.items() if v["type"] == "conv2d")]


@pytest.mark.parametrize("value, fragment", [
    (3, "does not match the stored"),
    (-4, "expected an integer >= 0"),
    ("8", "expected an integer >= 0"),
])
def test_channel_counts_that_do_not_fit(valid, tmp_path, use_fixture_mirror, capsys, value, fragment):
    folder = _tampered(valid, "channels", tmp_path, lambda c: _first_conv(c).__setitem__("out_channels", value))
    _refused(folder, capsys, fragment, task="cifar10")


def test_module_shapes_of_the_wrong_type(valid, tmp_path, use_fixture_mirror, capsys):
    folder = _tampered(valid, "channels", tmp_path,
                       lambda c: _stage(c)["result"].__setitem__("module_shapes", ["conv"]))
    _refused(folder, capsys, "module_shapes: expected a mapping", task="cifar10")


# ---- absurd sizes: each would allocate 100+ GiB; they run under a memory cap ---------------------
ABSURD = {
    "ffn_width_1e9": ("ffn", "lambda c: c['hfcompress']['stages'][-1]['result'].__setitem__('ffn_widths', [10**9, 32])"),
    "heads_1e6": ("heads", "lambda c: c.__setitem__('num_attention_heads', 10**6)"),
    "conv_channels_1e9": ("channels", "lambda c: [v.__setitem__('out_channels', 10**9) for v in "
                          "c['hfcompress']['stages'][-1]['result']['module_shapes'].values() if v['type'] == 'conv2d']"),
    "intermediate_size_1e9": ("heads", "lambda c: c.__setitem__('intermediate_size', 10**9)"),
    "plain_intermediate_size_1e9": ("plain", "lambda c: c.__setitem__('intermediate_size', 10**9)"),
    "num_hidden_layers_1e6": ("plain", "lambda c: c.__setitem__('num_hidden_layers', 10**6)"),
    "vocab_size_1e9": ("plain", "lambda c: c.__setitem__('vocab_size', 10**9)"),
}


def _packed_1e6_squared(folder: Path) -> None:
    """Rewrite one packed tensor's stored dense shape to 10^6 x 10^6 (its data bytes stay 16)."""
    from safetensors.torch import load_file, save_file

    state = load_file(str(folder / "model.safetensors"))
    key = next(k for k in state if k.endswith(".__hfc_shape"))
    state[key] = torch.tensor([10 ** 6, 10 ** 6], dtype=torch.int64)
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})


SCRIPT = textwrap.dedent("""
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, ({cap}, {cap}))
    import hfcompress
    from hfcompress.errors import HfCompressError
    out = {{}}
    for name, folder in json.loads(sys.argv[1]).items():
        try:
            hfcompress.load(folder)
            out[name] = ["loaded", ""]
        except HfCompressError as exc:
            out[name] = ["refused", str(exc)]
        except BaseException as exc:
            out[name] = [type(exc).__name__, str(exc)[:300]]
    print("RESULT " + json.dumps(out))
""")


def run_capped(folders: dict[str, Path], cap: int = MEMORY_CAP) -> dict[str, list[str]]:
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT.format(cap=cap), json.dumps({k: str(v) for k, v in folders.items()})],
                          capture_output=True, text=True, env=env, timeout=600)
    line = next((l for l in proc.stdout.splitlines() if l.startswith("RESULT ")), None)
    assert line is not None, (proc.returncode, proc.stdout[-2000:], proc.stderr[-3000:])
    return json.loads(line[len("RESULT "):])


@pytest.fixture(scope="module")
def absurd_results(valid, tiny_bert_dir, tmp_path_factory) -> dict[str, list[str]]:
    root = tmp_path_factory.mktemp("absurd")
    sources = {**valid, "plain": tiny_bert_dir}
    folders, before = {}, {}
    for name, (kind, fn) in ABSURD.items():
        folder = copy_model(sources[kind], root / name)
        edit_config(folder, eval(fn))  # noqa: S307 - test-owned literals
        folders[name] = folder
    packed = copy_model(valid["packed"], root / "packed_1e6_squared")
    _packed_1e6_squared(packed)
    folders["packed_1e6_squared"] = packed
    before = {name: snapshot(f) for name, f in folders.items()}
    results = run_capped(folders)
    for name, folder in folders.items():
        assert snapshot(folder) == before[name], name
    return results


@pytest.mark.slow
@pytest.mark.parametrize("case", [*ABSURD, "packed_1e6_squared"])
def test_absurd_sizes_are_refused_before_allocating(absurd_results, case):
    status, message = absurd_results[case]
    assert status == "refused", (status, message)
    assert "\n" not in message and "/config.json" in message or "model.safetensors" in message, message


# ---- prune on an INT8 model ---------------------------------------------------------------------
@pytest.fixture
def int8_dir(tiny_bert_dir, tmp_path, use_fixture_mirror):
    from hfcompress.cli.main import main

    assert main(["quantize", "--task", "sst2", "--model", str(tiny_bert_dir), "--output-dir", str(tmp_path / "q"),
                 "--method", "torch-dynamic"]) == 0
    return tmp_path / "q"


@pytest.mark.parametrize("method", ["heads", "ffn"])
def test_prune_on_an_int8_model_is_refused(int8_dir, tmp_path, capsys, method):
    before = snapshot(int8_dir)
    fails_in_one_line(["prune", "--task", "sst2", "--model", str(int8_dir), "--output-dir", str(tmp_path / "p"),
                       "--method", method, "--amount", "0.5", "--importance", "magnitude"], capsys, "quantized")
    assert snapshot(int8_dir) == before and not (tmp_path / "p").exists()


@pytest.mark.parametrize("method, extra", [("unstructured", ["--amount", "0.5"]), ("drop_layers", ["--drop", "0"]),
                                           ("vocab", [])])
def test_prune_on_an_int8_model_is_refused_for_every_method(int8_dir, tmp_path, capsys, method, extra):
    before = snapshot(int8_dir)
    fails_in_one_line(["prune", "--task", "sst2", "--model", str(int8_dir), "--output-dir", str(tmp_path / "p"),
                       "--method", method, *extra, "--eval-limit", "0"], capsys, "quantized")
    assert snapshot(int8_dir) == before


def test_valid_folders_still_load(valid):
    for name, folder in valid.items():
        assert hfcompress.load(folder).model is not None, name


def test_header_reader_matches_safetensors(valid):
    from safetensors import safe_open

    from hfcompress.hub.validate import read_safetensors_header

    f = valid["heads"] / "model.safetensors"
    header = read_safetensors_header(f)
    with safe_open(str(f), framework="pt") as st:
        assert {k: tuple(st.get_slice(k).get_shape()) for k in st.keys()} == {k: v["shape"] for k, v in header.items()}
    with pytest.raises(ModelLoadError, match="only 3 bytes"):
        (valid["heads"].parent / "x.safetensors").write_bytes(b"abc")
        read_safetensors_header(valid["heads"].parent / "x.safetensors")

"""The real all-MiniLM-L6-v2 with a briefly fine-tuned SST-2 head, through the ONNX path in this one
environment: attention fused in all 6 layers, and dynamic / static INT8 within 1 accuracy point of fp32
on 200 real validation sentences (the point is INT8 vs fp32 agreement on the same model)."""

import pytest

import hfcompress
from hfcompress.config import EvalConfig, TrainConfig
from hfcompress.evaluation import evaluate_loaded
from hfcompress.quantize import QuantizeConfig, quantize
from hfcompress.tasks import get_task
from hfcompress.training import train

pytestmark = [pytest.mark.onnx, pytest.mark.slow, pytest.mark.integration]
pytest.importorskip("onnxruntime", reason='needs the onnx extra: pip install -e ".[onnx]"')

N_EVAL = 200


def _accuracy(path, task, mirror) -> float:
    loaded = hfcompress.load(path, task=task)
    ev = evaluate_loaded(loaded, task, EvalConfig(task="sst2", model=str(path), limit=N_EVAL, batch_size=32,
                                                  max_length=64, datasets_mirror=mirror, warmup=0, repeats=1))
    assert ev["n_examples"] == N_EVAL
    return ev["metrics"]["accuracy"]


def test_minilm_int8_within_one_point_of_fp32(real_mirror, minilm_path, tmp_path, one_thread, capsys):
    task = get_task("sst2")
    teacher = tmp_path / "minilm-sst2"
    # 2000 sentences at 1e-4 (~1.5 min on one core): measured 0.79 accuracy, and fewer borderline predictions
    # than 640 at 3e-4 (0.765; 6 instead of 2 predictions flipped by dynamic INT8)
    train(TrainConfig(task="sst2", model=minilm_path, output_dir=str(teacher), epochs=1, learning_rate=1e-4,
                      batch_size=16, max_train_samples=2000, max_eval_samples=N_EVAL, max_length=64, save_steps=1000,
                      datasets_mirror=real_mirror))
    fp32 = _accuracy(teacher, task, real_mirror)
    assert fp32 > 0.7  # the brief fine-tune learnt something (chance: 0.5)
    results = {}
    for method, options in [("onnx-fp32", {}), ("onnx-dynamic", {}),
                            ("onnx-static", {"calibration": "minmax", "calibration_samples": 128})]:
        out = tmp_path / method
        summary = quantize(QuantizeConfig(task="sst2", model=str(teacher), output_dir=str(out), method=method,
                                          optimization_level="O2", max_length=64, datasets_mirror=real_mirror,
                                          **options))
        # every one of the 6 layers: Attention, BiasGelu, two SkipLayerNormalization (+ one EmbedLayerNormalization)
        assert summary["fused"]["ops"] == {"Attention": 6, "EmbedLayerNormalization": 1,
                                           "SkipLayerNormalization": 12, "BiasGelu": 6}, summary["fused"]
        results[method] = _accuracy(out, task, real_mirror)
    assert "onnx O2: fused attention 6, layernorm 13, gelu 6" in capsys.readouterr().out
    print(f"MiniLM SST-2 accuracy on {N_EVAL}: PyTorch fp32 {fp32:.3f}, "  # shown with -s, or on failure
          + ", ".join(f"{m} {a:.3f}" for m, a in results.items()))
    assert abs(results["onnx-fp32"] - fp32) <= 1 / N_EVAL  # fused fp32: the same predictions (one tie at most)
    for method in ("onnx-dynamic", "onnx-static"):
        assert abs(results[method] - fp32) <= 0.01 + 1e-9, results  # 1 point = 2 of 200 sentences

"""torch.ao (today's torch-dynamic / torch-static) vs its replacement torchao / PT2E, measured on this CPU.

    PYTHONPATH=<a folder with torchao installed> python benchmarks/torchao_check.py

PyTorch's eager and FX quantization (``torch.ao.quantization``) is deprecated in favour of torchao
(``quantize_(model, Int8DynamicActivationInt8WeightConfig())``) and PT2E (``torch.export`` +
``X86InductorQuantizer``). This measures, side by side in one process with interleaved timing and the
same threads: the SST-2 teacher (benchmarks/work/teacher-sst2) in fp32, with torch.ao dynamic INT8 and with
torchao's int8 dynamic-activation / int8-weight config in eager mode (and compiled, with ``--compile``),
accuracy on ``--limit`` validation sentences; and a ResNet-18-w32 (random weights: speed and agreement
with fp32 only) with FX static INT8 vs PT2E static INT8 (eager; compiled with ``--compile``).
torchao is not a dependency of hfcompress: this script decides whether to switch, it is not a backend.
Writes benchmarks/results/torchao_check.{json,md}.
"""

from __future__ import annotations

import argparse
import copy
import time

from common import WORK, require_mirror, write_results


def resnet(args) -> None:
    """ResNet-18-w32 (random weights: speed and agreement with fp32): FX static INT8 (torch.ao, today's
    torch-static) vs PT2E static INT8 with torchao's X86InductorQuantizer, run eagerly."""
    import torch
    import torchao
    import torchao.quantization.pt2e.quantizer.x86_inductor_quantizer as xiq
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    from transformers import ResNetForImageClassification

    from hfcompress.evaluation.efficiency import environment, interleaved_latency, set_threads
    from hfcompress.models.zoo import scratch_config
    from hfcompress.quantize import torch_int8

    threads = set_threads(args.threads)
    torch.manual_seed(0)
    model = ResNetForImageClassification(scratch_config("scratch:resnet18-w32", num_labels=10)).eval()
    calibration = [{"pixel_values": torch.randn(8, 3, 32, 32)} for _ in range(8)]
    fx = torch_int8.quantize_static_resnet(copy.deepcopy(model), calibration)
    core = torch_int8.TraceableResNet(copy.deepcopy(model)).eval()
    quantizer = xiq.X86InductorQuantizer().set_global(xiq.get_default_x86_inductor_quantization_config())
    exported = torch.export.export(core, (torch.randn(4, 3, 32, 32),), dynamic_shapes=({0: torch.export.Dim.AUTO},))
    prepared = prepare_pt2e(exported.module(), quantizer)
    for batch in calibration:
        prepared(batch["pixel_values"])
    pt2e = convert_pt2e(prepared)
    x = torch.randn(32, 3, 32, 32)
    with torch.inference_mode():
        ref = model(pixel_values=x).logits.argmax(-1)
        agree = {"fx": float((fx(pixel_values=x).logits.argmax(-1) == ref).float().mean()),
                 "pt2e": float((pt2e(x).argmax(-1) == ref).float().mean())}
        timing = interleaved_latency({"fp32 (eager)": lambda: model(pixel_values=x),
                                      "FX static INT8 (torch.ao, today: torch-static)": lambda: fx(pixel_values=x),
                                      "PT2E static INT8 (torchao X86InductorQuantizer, eager)": lambda: pt2e(x)},
                                     rounds=args.rounds)
    base = timing["fp32 (eager)"]["latency_ms_median"]
    lines = [f"# torch.ao FX vs torchao PT2E (ResNet-18-w32, random weights) on this CPU\n\n"
             f"Command: `python benchmarks/torchao_check.py --part resnet` (torchao {torchao.__version__}, torch "
             f"{torch.__version__}, {threads} thread(s), batch 32, {args.rounds} interleaved rounds; argmax agreement "
             f"with fp32 on that batch: FX {agree['fx']:.2f}, PT2E {agree['pt2e']:.2f})\n",
             "| model | batch 32 ms | x fp32 |", "| --- | ---: | ---: |"]
    lines += [f"| {n} | {t['latency_ms_median']:.2f} | {base / t['latency_ms_median']:.2f} |" for n, t in timing.items()]
    write_results("torchao_check_resnet", {"timing": timing, "agreement": agree, "environment": environment(threads)},
                  "\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", choices=["bert", "resnet"], default="bert")
    ap.add_argument("--model", default=str(WORK / "teacher-sst2"))
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile'd torchao / PT2E models")
    args = ap.parse_args()
    if args.part == "resnet":
        return resnet(args)
    require_mirror()
    import numpy as np
    import torch
    import torchao
    from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_

    import hfcompress
    from hfcompress.evaluation.efficiency import environment, interleaved_latency, set_threads
    from hfcompress.quantize import torch_int8
    from hfcompress.tasks.batches import batches

    threads = set_threads(args.threads)
    task = hfcompress.get_task("sst2")
    loaded = hfcompress.load(args.model, task=task)
    fp32 = loaded.model.eval()
    models = {"fp32 (eager)": fp32,
              "torch.ao dynamic INT8 (today: torch-dynamic)": torch_int8.quantize_dynamic_linear(copy.deepcopy(fp32))}
    tao = copy.deepcopy(fp32)
    quantize_(tao, Int8DynamicActivationInt8WeightConfig())
    models["torchao int8 dyn-act/int8-weight (eager)"] = tao
    if args.compile:
        t0 = time.perf_counter()
        models["torchao int8 (torch.compile)"] = torch.compile(copy.deepcopy(tao))
        print(f"compile wrap {time.perf_counter() - t0:.1f}s")
    data = list(batches(task, "validation", loaded.preprocessor, batch_size=32, limit=args.limit, seed=0))
    rows = {}
    with torch.inference_mode():
        for name, m in models.items():
            preds, labels = [], []
            for b in data:
                b = dict(b)
                labels.append(b.pop("labels").numpy())
                preds.append(m(**b).logits.argmax(-1).numpy())
            rows[name] = {"accuracy": float((np.concatenate(preds) == np.concatenate(labels)).mean())}
            print(name, rows[name], flush=True)
        one = {k: v[:1] for k, v in data[0].items() if k != "labels"}
        full = {k: v for k, v in data[0].items() if k != "labels"}
        for bs, batch in (("1", one), ("32", full)):
            t = interleaved_latency({n: (lambda m=m: m(**batch)) for n, m in models.items()}, rounds=args.rounds)
            for n in models:
                rows[n][f"latency_b{bs}_ms"] = t[n]["latency_ms_median"]
    base = rows["fp32 (eager)"]
    lines = [f"# torch.ao vs torchao on this CPU\n\nCommand: `python benchmarks/torchao_check.py"
             f"{' --compile' if args.compile else ''}` (torchao {torchao.__version__}, torch {torch.__version__}, "
             f"{threads} thread(s), {args.rounds} interleaved rounds; SST-2 teacher, {args.limit} validation sentences)\n",
             "| model | accuracy | batch 1 ms | x fp32 | batch 32 ms | x fp32 |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for n, r in rows.items():
        lines.append(f"| {n} | {r['accuracy']:.4f} | {r['latency_b1_ms']:.2f} | {base['latency_b1_ms'] / r['latency_b1_ms']:.2f} | "
                     f"{r['latency_b32_ms']:.1f} | {base['latency_b32_ms'] / r['latency_b32_ms']:.2f} |")
    write_results("torchao_check", {"rows": rows, "environment": environment(threads),
                                    "torchao": torchao.__version__}, "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

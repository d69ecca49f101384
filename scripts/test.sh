#!/usr/bin/env bash
# Run the test suite in every environment scripts/setup.sh made (.venv, .venv-onnx).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not integration"` for the fast unit tests.
set -uo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
if [ -z "${HFCOMPRESS_DATASETS_MIRROR:-}" ] && [ -d ../shared/datasets ]; then
  export HFCOMPRESS_DATASETS_MIRROR=$(cd ../shared/datasets && pwd)
fi
echo "dataset mirror: ${HFCOMPRESS_DATASETS_MIRROR:-<none: integration tests will be skipped>}"
status=0 ran=0
for venv in .venv .venv-onnx; do
  [ -x "$venv/bin/python" ] || continue
  ran=1
  echo "== pytest in $venv"
  "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
  code=$?
  # 5 = no tests collected (e.g. a -k filter matching none here): not a failure of this environment
  if [ $code -ne 0 ] && [ $code -ne 5 ]; then status=$code; fi
done
[ $ran -eq 1 ] || { echo "no environment found: run bash scripts/setup.sh first" >&2; exit 2; }
exit $status

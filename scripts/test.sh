#!/usr/bin/env bash
# Run the test suite in the environment scripts/setup.sh made (.venv). Extra arguments go to pytest:
#   bash scripts/test.sh                   everything (what CI runs)
#   bash scripts/test.sh -m "not slow"     the fast loop (a few minutes on 2 cores)
set -uo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
if [ -z "${HFCOMPRESS_DATASETS_MIRROR:-}" ] && [ -d ../shared/datasets ]; then
  export HFCOMPRESS_DATASETS_MIRROR=$(cd ../shared/datasets && pwd)
fi
echo "dataset mirror: ${HFCOMPRESS_DATASETS_MIRROR:-<none: integration tests will be skipped>}"
VENV=${HFCOMPRESS_VENV:-.venv}
[ -x "$VENV/bin/python" ] || { echo "no environment at $VENV: run bash scripts/setup.sh first" >&2; exit 2; }
"$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
code=$?
# 5 = no tests collected (e.g. a -k filter matching none): not a failure
[ $code -eq 5 ] && exit 0
exit $code

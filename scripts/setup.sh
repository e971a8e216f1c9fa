#!/usr/bin/env bash
# Create .venv and install the project with every extra, from the repository's own files.
# torch is pinned to the CPU build that lies on this machine's disk; a GPU image keeps its own.
# Each step says what it does (the whole takes ~90 s on a fresh machine).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
START=$SECONDS
step() { echo "setup: $* ($((SECONDS - START)) s)"; }
if [ -x .venv/bin/python ]; then step "using the existing .venv"; else step "creating .venv with $PY"; "$PY" -m venv .venv; fi
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
step "installing torch ${TORCH_VERSION:-2.13.0} (CPU build)"
pip install -q "torch==${TORCH_VERSION:-2.13.0}" 2>&1 | grep -v "is ignored" || true
step "installing nb201-rebench with its api, worker and dev extras (editable)"
pip install -q -e '.[api,worker,dev]' 2>&1 | grep -v "is ignored" || true
# Reference implementations used only by tests: their declared pins break beside
# modern numpy / the local torch, so they come without dependencies.
step "installing the reference implementations xautodl and mup (without their dependencies)"
pip install -q --no-deps xautodl==1.0.0 mup==1.0.0 2>&1 | grep -v "is ignored" || true
step "checking the imports"
python -c "import archscale, typer, torch, fastapi, sqlalchemy, celery, hypothesis, fastapi_offline" \
  || { echo "setup failed: a dependency did not install" >&2; exit 1; }
step "done: .venv/bin/rebench is ready"

#!/usr/bin/env bash
# Create .venv and install the project with every extra, from the repository's own files.
# torch is pinned to the CPU build that lies on this machine's disk; a GPU image keeps its own.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
pip install -q "torch==${TORCH_VERSION:-2.13.0}" 2>&1 | grep -v "is ignored" || true
pip install -q -e '.[api,worker,dev]' 2>&1 | grep -v "is ignored" || true
# Reference implementations used only by tests: their declared pins break beside
# modern numpy / the local torch, so they come without dependencies.
pip install -q --no-deps xautodl==1.0.0 mup==1.0.0 2>&1 | grep -v "is ignored" || true
python -c "import archscale, typer, torch, fastapi, sqlalchemy, celery, hypothesis" \
  || { echo "setup failed: a dependency did not install" >&2; exit 1; }

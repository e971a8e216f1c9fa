#!/usr/bin/env bash
# On the GPU machine (no network, the image's own python3 with torch): make the suite runnable.
# Installs nothing from a registry: carried wheels (data-local/wheels) go to data-local/site,
# which benchmarks/gpu_suite.py puts on its path. Takes seconds. Then:
#   python3 benchmarks/gpu_suite.py --data-root data-local --json gpu_suite.json
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if compgen -G "data-local/wheels/*.whl" >/dev/null; then
    $PY -m pip install -q --no-index --no-deps --no-compile --upgrade --target data-local/site data-local/wheels/*.whl
fi
$PY - <<'PYEOF'
import importlib.util, sys
need = {"torch": "PyTorch", "numpy": "numpy", "PIL": "pillow (JPEG decoding)", "typer": "typer (rebench CLI)",
        "rich": "rich (rebench CLI)"}
missing = [f"{m} ({what})" for m, what in need.items() if importlib.util.find_spec(m) is None]
if missing:
    sys.exit("missing on this machine: " + ", ".join(missing) + "; carry them as wheels in data-local/wheels")
import torch
print(f"ok: torch {torch.__version__}, CUDA {torch.version.cuda}, GPU available: {torch.cuda.is_available()}")
PYEOF

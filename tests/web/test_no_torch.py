"""The web pages run in the API process, which never imports torch."""

from __future__ import annotations

import subprocess
import sys


def test_rendering_every_page_imports_no_torch(tmp_path):
    script = f"""
import sys
from fastapi.testclient import TestClient
from service.settings import Settings
from service.api import create_app
app = create_app(Settings(database_url="sqlite:///{tmp_path / 'web.db'}", auto_migrate=True))
with TestClient(app) as client:
    for path in ("/web/leaderboard", "/web/archs/6111", "/web/plots", "/web/queue", "/v1/runs"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
assert "torch" not in sys.modules, "a web page imported torch"
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]

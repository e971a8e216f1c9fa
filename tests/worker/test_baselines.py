"""The fair baselines end to end in the embedded deployment (SQLite, worker child, CPU, tiny data):
a real `rebench base-lr` search stored in the database, then `standard-tuned` (one searched LR) and
`per-arch-searched` (each run searches its own LR grid) through the API, a batch, the leaderboard
and Kendall; a submission without a base LR gets 409 naming dataset, recipe and the command."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from tests.worker.conftest import ROOT, wait_for
from tests.worker.test_embedded import embedded_env, embedded_server

REBENCH = [sys.executable, "-m", "service.cli"]
pytestmark = pytest.mark.slow


def _finished(url: str, run_ids: list[int]) -> bool:
    return all(httpx.get(f"{url}/v1/runs/{i}", timeout=5).json()["status"] in ("succeeded", "failed")
               for i in run_ids)


def test_standard_tuned_and_per_arch_searched_train_end_to_end(tmp_path, data_root):
    env = embedded_env(tmp_path, data_root)
    db_url = f"sqlite:///{tmp_path / 'rebench.db'}"
    search = subprocess.run(REBENCH + ["base-lr", "--dataset", "cifar10", "--recipe", "standard-tuned", "--protocol",
                                       "smoke", "--seeds", "777", "888", "--grid", "0.02,0.2", "--data-root",
                                       str(data_root), "--device", "cpu", "--database-url", db_url,
                                       "--cache-dir", str(tmp_path / "cache")],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert search.returncode == 0, search.stdout + search.stderr
    with embedded_server(env, tmp_path / "serve.log") as (_, url, key):
        headers = {"X-API-Key": key}
        listed = httpx.get(f"{url}/v1/base-lrs", params={"recipe": "standard-tuned"}, timeout=5).json()["base_lrs"]
        searched = next(r for r in listed if r["protocol"] == "smoke")
        assert searched["origin"] == "searched" and searched["active"] and searched["seeds"] == [777, 888]
        assert searched["grid"] == [0.02, 0.2] and set(searched["losses"]) == {"777", "888"}

        # unknown base LR: 409 before anything is queued, naming dataset, recipe and the fixing command
        refused = httpx.post(f"{url}/v1/runs", headers=headers, timeout=10,
                             json={"arch": 6111, "dataset": "cifar10-valid", "scaling": "standard-tuned",
                                   "protocol": "nb201-12", "seeds": [1]})
        assert refused.status_code == 409, refused.text
        assert "'cifar10-valid'" in refused.text and "'standard-tuned'" in refused.text
        assert "rebench base-lr --dataset cifar10-valid --recipe standard-tuned --protocol nb201-12" in refused.text
        batch_refused = httpx.post(f"{url}/v1/batches", headers=headers, timeout=10,
                                   json={"archs": [6111], "dataset": "cifar100", "scaling": "arch-aware",
                                         "protocol": "smoke", "seeds": [1]})
        assert batch_refused.status_code == 409 and "--recipe arch-aware" in batch_refused.text

        tuned = [httpx.post(f"{url}/v1/runs", headers=headers, timeout=10,
                            json={"arch": arch, "dataset": "cifar10", "scaling": "standard-tuned", "protocol": "smoke",
                                  "seeds": [3]}) for arch in (6111, 25)]
        assert [t.status_code for t in tuned] == [202, 202], [t.text for t in tuned]
        batch = httpx.post(f"{url}/v1/batches", headers=headers, timeout=10,
                           json={"archs": [6111, 25], "dataset": "cifar10", "scaling": "per-arch-searched",
                                 "protocol": "smoke", "seeds": [3]})
        assert batch.status_code == 202, batch.text
        ids = [r["id"] for t in tuned for r in t.json()["runs"]] + [r["id"] for item in batch.json()["accepted"]
                                                                    for r in item["runs"]]
        wait_for(lambda: _finished(url, ids), 600, "the runs", lambda: (tmp_path / "serve.log").read_text())
        runs = [httpx.get(f"{url}/v1/runs/{i}", timeout=5).json() for i in ids]
        assert [r["status"] for r in runs] == ["succeeded"] * 4, [r["error"] for r in runs]

        arch_runs = httpx.get(f"{url}/v1/archs/6111/runs", timeout=5).json()["runs"]
        by_scaling = {r["scaling"]: r for r in arch_runs}
        assert by_scaling["standard-tuned"]["base_lr"] == searched["value"]
        assert by_scaling["standard-tuned"]["lr"] == searched["value"]  # one LR for every cell
        assert by_scaling["standard-tuned"]["base_lr_source"] == "table:searched"
        own = by_scaling["per-arch-searched"]
        assert own["base_lr_source"] == "per-arch-search" and own["lr"] == own["base_lr"]
        assert len(own["lr_search"]["grid"]) == len(own["lr_search"]["losses"]) == 12  # its grid is stored
        assert own["lr"] in own["lr_search"]["grid"]
        page = httpx.get(f"{url}/web/archs/6111", timeout=10).text
        assert "Base LR" in page and "table:searched" in page

        for scaling, archs in (("standard-tuned", {6111, 25}), ("per-arch-searched", {6111, 25})):
            deadline = time.monotonic() + 30  # the read model refreshes on its own
            while True:
                board = httpx.get(f"{url}/v1/leaderboard", timeout=10,
                                  params={"dataset": "cifar10", "scaling": scaling, "protocol": "smoke",
                                          "sort": "rescaled", "limit": 10}).json()
                got = {row["index"] for row in board["rows"] if row["rescaled"] is not None}
                if got == archs or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert got == archs, (scaling, board)
        tau = httpx.get(f"{url}/v1/rankings/kendall", timeout=10,
                        params={"dataset": "cifar10", "a": "standard-tuned@smoke", "b": "per-arch-searched@smoke",
                                "k": [100]})
        assert tau.status_code == 200, tau.text
        assert tau.json()["n_common"] == 2 and tau.json()["rows"][0]["n"] == 2

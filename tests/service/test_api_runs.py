"""POST/GET/DELETE /v1/runs and /v1/batches through the real app, on both backends."""

from __future__ import annotations

import sqlalchemy as sa

from archscale.protocols import get_protocol
from archscale.space import cell_at, format_arch
from service.storage.models import Run
from service.storage.results import append_epoch
from service.storage.runs import claim_run, heartbeat

from .conftest import finish_run, wipe_runs

ARCH = format_arch(cell_at(6111))


def test_submit_is_idempotent(api):
    wipe_runs(api.db)
    body = {"arch": ARCH, "dataset": "cifar10", "scaling": "arch-aware", "protocol": "smoke", "seeds": [1, 2]}
    first = api.post("/v1/runs", json=body)
    assert first.status_code == 202, first.text
    data = first.json()
    assert data["arch_index"] == 6111 and data["protocol"]["key"] == get_protocol("smoke").key
    assert [r["created"] for r in data["runs"]] == [True, True] and data["dispatched"]
    again = api.post("/v1/runs", json={**body, "arch": 6111})  # the index names the same cell
    assert again.status_code == 202
    assert [(r["id"], r["created"]) for r in again.json()["runs"]] == [(r["id"], False) for r in data["runs"]]
    with api.db.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Run)).scalar_one() == 2
    assert api.app.state.rebench.dispatcher.enqueued >= 2  # embedded dispatcher woken for new runs only


def test_run_detail_shows_progress_curve_and_result(api):
    wipe_runs(api.db)
    run_id = api.post("/v1/runs", json={"arch": 6111, "dataset": "cifar100", "protocol": "smoke",
                                        "scaling": "standard", "seeds": [5]}).json()["runs"][0]["id"]
    queued = api.get(f"/v1/runs/{run_id}").json()
    assert queued["status"] == "queued" and queued["progress"] == {"epoch": 0, "total": get_protocol("smoke").epochs}
    with api.db.transaction() as session:
        claim_run(session, run_id, "w")
        append_epoch(session, run_id, 1, train_loss=4.0, train_acc=5.0, evals={"x-valid": {"acc": 6.0}})
        heartbeat(session, run_id, "w", epoch=1)
    running = api.get(f"/v1/runs/{run_id}").json()
    assert running["status"] == "running" and running["progress"]["epoch"] == 1
    assert running["curve"][0]["evals"] == {"x-valid": {"acc": 6.0}} and running["result"] is None
    finish_run(api.db, run_id, {"x-valid": {"acc": 60.0}, "x-test": {"acc": 59.0}}, worker="w")
    done = api.get(f"/v1/runs/{run_id}").json()
    assert done["status"] == "succeeded" and done["result"]["metrics"]["x-test"] == {"acc": 59.0}
    assert len(done["result"]["fingerprint"]) == 64


def test_cancel(api):
    wipe_runs(api.db)
    ids = [r["id"] for r in api.post("/v1/runs", json={"arch": 1, "dataset": "cifar10", "protocol": "smoke",
                                                       "seeds": [1, 2]}).json()["runs"]]
    cancelled = api.client.delete(f"/v1/runs/{ids[0]}", headers=api.headers)
    assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled"
    finish_run(api.db, ids[1], {"test": {"acc": 80.0}})
    conflict = api.client.delete(f"/v1/runs/{ids[1]}", headers=api.headers)
    assert conflict.status_code == 409 and "already succeeded" in conflict.json()["detail"][0]["msg"]
    assert api.client.delete(f"/v1/runs/{ids[0]}").status_code == 401  # writes need a key
    missing = api.get("/v1/runs/999999")
    assert missing.status_code == 404 and missing.json()["detail"][0]["loc"] == ["path", "run_id"]


def test_batches_accept_valid_items_and_report_bad_ones(api):
    wipe_runs(api.db)
    archs = [ARCH, 1835, "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", 99999,
             "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", 6111]
    response = api.post("/v1/batches", json={"archs": archs, "dataset": "cifar10", "protocol": "smoke",
                                             "seeds": [7, 8]})
    assert response.status_code == 202, response.text
    data = response.json()
    assert [a["item"] for a in data["accepted"]] == [0, 1, 5]
    # item 5 names the same cell as item 0 (by index): the same runs, created once
    assert [r["id"] for r in data["accepted"][0]["runs"]] == [r["id"] for r in data["accepted"][2]["runs"]]
    errors = {e["item"]: e["msg"] for e in data["errors"]}
    assert set(errors) == {2, 3, 4}
    assert "unknown op 'conv'" in errors[2] and "outside 0..15624" in errors[3] and "S = 0" in errors[4]
    assert data["runs_created"] == 4 and data["runs_existing"] == 0
    first_run = data["accepted"][0]["runs"][0]["id"]
    finish_run(api.db, first_run, {"test": {"acc": 91.0}})
    status = api.get(f"/v1/batches/{data['id']}").json()
    assert status["total"] == 4 and status["counts"]["succeeded"] == 1 and status["counts"]["queued"] == 3
    assert not status["done"] and len(status["errors"]) == 3
    again = api.post("/v1/batches", json={"archs": [6111], "dataset": "cifar10", "protocol": "smoke", "seeds": [7]})
    assert again.json()["runs_existing"] == 1 and again.json()["accepted"][0]["runs"][0]["id"] == first_run


def test_batch_limits(api):
    too_many = api.post("/v1/batches", json={"archs": list(range(1001)), "dataset": "cifar10"})
    assert too_many.status_code == 422
    assert too_many.json()["detail"][0]["loc"] == ["body", "archs"] and "1,000" in too_many.json()["detail"][0]["msg"]
    # Items are checked one by one: all of them bad is an accepted batch with nothing to train.
    all_bad = api.post("/v1/batches", json={"archs": ["x", 15625], "dataset": "cifar10"})
    assert all_bad.status_code == 202, all_bad.text
    body = all_bad.json()
    assert body["accepted"] == [] and body["runs_created"] == 0 and body["dispatched"] in (True, None)
    assert [e["loc"] for e in body["errors"]] == [["body", "archs", 0], ["body", "archs", 1]]
    assert "outside 0..15624" in body["errors"][1]["msg"]
    status = api.get(f"/v1/batches/{body['id']}").json()
    assert status["total"] == 0 and status["done"] and len(status["errors"]) == 2
    assert api.get("/v1/batches/123456789").status_code == 404


def test_unknown_base_lr_is_a_409_naming_dataset_recipe_and_the_command(api):
    wipe_runs(api.db)
    for path, body in (("/v1/runs", {"arch": 6111, "dataset": "cifar100", "protocol": "smoke", "seeds": [5]}),
                       ("/v1/batches", {"archs": [6111, 1], "dataset": "cifar10-valid", "protocol": "nb201-200",
                                        "scaling": "arch-aware-derived", "seeds": [5]})):
        answer = api.post(path, json=body)
        assert answer.status_code == 409 and answer.json()["detail"][0]["type"] == "no_base_lr", answer.text
        recipe = body.get("scaling", "arch-aware")
        message = answer.text
        assert f"dataset {body['dataset']!r}" in message and f"recipe {recipe!r}" in message
        assert f"rebench base-lr --dataset {body['dataset']} --recipe {recipe} --protocol {body['protocol']}" in message
    with api.db.engine.connect() as conn:  # nothing was queued
        assert conn.execute(sa.select(sa.func.count()).select_from(Run)).scalar_one() == 0
    # the released default for CIFAR-10 is known: accepted
    assert api.post("/v1/runs", json={"arch": 6111, "dataset": "cifar10", "protocol": "nb201-200",
                                      "seeds": [5]}).status_code == 202


def test_base_lrs_lists_values_with_provenance(api):
    rows = api.get("/v1/base-lrs", params={"dataset": "cifar10"}).json()["base_lrs"]
    released = next(r for r in rows if (r["recipe"], r["protocol"], r["origin"]) ==
                    ("arch-aware", "nb201-200", "released-default"))
    assert released["value"] == 0.46 and "main.py" in released["note"]
    in_force = [r for r in rows if r["active"] and (r["recipe"], r["protocol"]) == ("arch-aware", "nb201-200")]
    assert len(in_force) == 1
    assert all(r["dataset"] == "cifar10" for r in rows)
    assert {r["origin"] for r in rows} <= {"searched", "released-default", "manual"}
    assert "rebench base-lr" in api.get("/v1/base-lrs").json()["how_to_add"]

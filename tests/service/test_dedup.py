"""Batch deduplication (dedup=isomorphic / nb201): one trained run per class, the others
served and marked, on PostgreSQL and SQLite through the real app."""

from __future__ import annotations

import time

import sqlalchemy as sa

from archscale.isomorphism import nb201_unique_key, relabel_key
from service.storage.models import Run

from .conftest import finish_run, wipe_runs

# 3/14483 and 41/906 are relabelling pairs (hidden vertices 1 and 2 swapped); NB201's key
# splits the first pair and merges the second. 23, 10068 and 13782 share NB201's key but
# are three different networks. 6111 is alone under both keys.
KNOWN = [3, 14483, 41, 906, 23, 10068, 13782, 6111]
BODY = {"dataset": "cifar10", "scaling": "standard", "protocol": "smoke"}


def batch(api, archs, dedup, seeds, **extra):
    response = api.post("/v1/batches", json={**BODY, "archs": archs, "dedup": dedup, "seeds": seeds, **extra})
    assert response.status_code == 202, response.text
    return response.json()


def runs_by_arch(data) -> dict[int, dict]:
    return {item["arch_index"]: item["runs"][0] for item in data["accepted"]}


def run_count(api) -> int:
    with api.db.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(Run)).scalar_one()


def test_the_known_set_has_the_class_counts_the_keys_give():
    assert len({relabel_key(i) for i in KNOWN}) == 6
    assert len({nb201_unique_key(i) for i in KNOWN}) == 5


def test_isomorphic_batch_trains_one_run_per_class_and_serves_the_rest(api):
    wipe_runs(api.db)
    sent = api.app.state.rebench.dispatcher.enqueued
    data = batch(api, KNOWN, "isomorphic", [1])
    assert (data["dedup"], data["runs_trained"], data["runs_served"], data["runs_created"]) == ("isomorphic", 6, 2, 8)
    assert api.app.state.rebench.dispatcher.enqueued - sent == 6  # served runs are never sent to a worker
    runs = runs_by_arch(data)
    assert runs[14483]["served_from_run_id"] == runs[3]["id"] and runs[14483]["served_from_arch"] == 3
    assert runs[906]["served_from_run_id"] == runs[41]["id"] and runs[906]["served_from_arch"] == 41
    assert all(runs[a]["served_from_run_id"] is None for a in (3, 41, 23, 10068, 13782, 6111))

    again = batch(api, KNOWN, "isomorphic", [1])  # resubmitting creates nothing new
    assert again["runs_created"] == 0 and again["runs_existing"] == 8 and run_count(api) == 8
    assert runs_by_arch(again) == {a: {**r, "created": False} for a, r in runs.items()}

    rep, served = runs[3]["id"], runs[14483]["id"]
    waiting = api.get(f"/v1/runs/{served}").json()
    assert waiting["status"] == "queued" and waiting["served_from"]["run_id"] == rep
    assert waiting["served_from"]["dedup"] == "isomorphic" and waiting["result"] is None
    finish_run(api.db, rep, {"test": {"acc": 91.0}})
    finish_run(api.db, runs[41]["id"], {"test": {"acc": 85.0}})
    finish_run(api.db, runs[23]["id"], {"test": {"acc": 70.0}})

    shown = api.get(f"/v1/runs/{served}").json()
    assert shown["status"] == "succeeded" and shown["served_from_run_id"] == rep
    assert shown["served_from"]["arch_index"] == 3 and "same network" in shown["served_from"]["note"]
    assert shown["result"]["metrics"]["test"] == {"acc": 91.0} and shown["result"]["served_from_run_id"] == rep
    assert api.get(f"/v1/runs/{rep}").json()["result"]["served_from_run_id"] is None
    status = api.get(f"/v1/batches/{data['id']}").json()
    assert status["served"] == 2 and status["counts"]["succeeded"] == 5 and status["counts"]["queued"] == 3
    row = next(r for r in status["runs"] if r["id"] == served)
    assert (row["served_from_run_id"], row["served_from_arch"], row["served_by"]) == (rep, 3, "isomorphic")
    listed = {r["id"]: r for r in api.get("/v1/runs", params={"limit": 50}).json()["runs"]}  # the live queue
    assert listed[served]["served_from_run_id"] == rep and listed[rep]["served_from_run_id"] is None
    own = {r["id"]: r for r in api.get("/v1/archs/14483/runs").json()["runs"]}
    assert own[served]["served_from_run_id"] == rep

    api.refresh()
    board = api.get("/v1/leaderboard", params={**BODY, "has_results": "true", "limit": 50}).json()
    rows = {r["index"]: r for r in board["rows"]}
    assert set(rows) == {3, 14483, 41, 906, 23}
    assert rows[14483]["rescaled"] == 91.0 and rows[14483]["served_from"] == 3 and rows[14483]["rescaled_served"] == 1
    assert rows[3]["served_from"] is None and rows[3]["rescaled_served"] == 0
    assert board["rescaled"]["served_archs"] == 2 and "served" in board["rescaled"]["provenance"]
    csv = api.get("/v1/leaderboard", params={**BODY, "has_results": "true", "format": "csv"}).text
    page = api.get("/web/leaderboard", params={**BODY, "has_results": "true"}).text  # the web page marks it too
    assert page.count('class="served"') == 2 and "↺3<" in page and "↺41<" in page
    queue = api.get("/web/queue").text
    assert f"served from #{rep}<" in queue and queue.count("served from #") == 2
    assert "rescaled_served,served_from" in csv and "\n14483," in csv

    arch = api.get("/v1/archs/14483", params={"dataset": "cifar10"}).json()
    number = next(n for n in arch["datasets"]["cifar10"]["rescaled"] if n["source"].startswith("standard@smoke"))
    assert number["value"] == 91.0 and number["served_from"] == 3 and number["served_seeds"] == [1]

    # Kendall counts measurements: the 2 served archs are left out of the population.
    tau = api.get("/v1/rankings/kendall", params={"dataset": "cifar10", "a": "nb201", "b": "standard@smoke",
                                                  "k": 100}).json()
    assert board["n_common"] == 5 and tau["n_common"] == 3 and tau["b"]["served_archs"] == 2


def test_nb201_key_merges_what_its_rule_merges(api):
    wipe_runs(api.db)
    data = batch(api, KNOWN, "nb201", [2])
    assert (data["runs_trained"], data["runs_served"]) == (5, 3)
    runs = runs_by_arch(data)
    assert runs[10068]["served_from_arch"] == runs[13782]["served_from_arch"] == 23
    assert runs[906]["served_from_arch"] == 41
    assert runs[14483]["served_from_run_id"] is None  # a relabelling NB201's text key keeps apart
    note = api.get(f"/v1/runs/{runs[10068]['id']}").json()["served_from"]
    assert note["dedup"] == "nb201" and "NOT training-equivalent" in note["note"]
    exact = batch(api, KNOWN, "exact", [3])
    assert (exact["runs_trained"], exact["runs_served"], exact["dedup"]) == (8, 0, "exact")


def test_a_run_served_under_nb201_becomes_its_own_run_when_asked_for_exactly(api):
    wipe_runs(api.db)
    runs = runs_by_arch(batch(api, [23, 10068, 3, 14483], "nb201", [6]))
    approx = runs[10068]["id"]
    assert runs[10068]["served_from_arch"] == 23
    # isomorphic accepts nothing NB201 merged: 10068 is promoted to a run to train
    iso = runs_by_arch(batch(api, [10068, 13782], "isomorphic", [6]))
    assert iso[10068] == {**iso[10068], "id": approx, "created": True, "served_from_run_id": None}
    sent = api.app.state.rebench.dispatcher.enqueued
    exact = api.post("/v1/runs", json={**BODY, "arch": 10068, "seeds": [6]}).json()["runs"][0]
    assert exact["id"] == approx and not exact["created"]  # already its own run now
    assert api.app.state.rebench.dispatcher.enqueued == sent
    shown = api.get(f"/v1/runs/{approx}").json()
    assert shown["served_from_run_id"] is None and shown["served_from"] is None and shown["status"] == "queued"
    # and POST /v1/runs promotes too, on a run still served under nb201
    other = runs_by_arch(batch(api, [23, 13782], "nb201", [7]))[13782]
    assert other["served_from_arch"] == 23
    sent = api.app.state.rebench.dispatcher.enqueued
    promoted = api.post("/v1/runs", json={**BODY, "arch": 13782, "seeds": [7]}).json()["runs"][0]
    assert promoted["id"] == other["id"] and promoted["created"] and promoted["status"] == "queued"
    assert api.app.state.rebench.dispatcher.enqueued == sent + 1


def test_an_existing_run_of_a_class_member_is_reused_as_representative(api):
    wipe_runs(api.db)
    own = api.post("/v1/runs", json={**BODY, "arch": 14483, "seeds": [4, 5]}).json()["runs"]
    finish_run(api.db, own[0]["id"], {"test": {"acc": 88.0}})  # seed 4 done, seed 5 still queued
    api.refresh()
    sent = api.app.state.rebench.dispatcher.enqueued
    data = batch(api, [3, 14483], "isomorphic", [4, 5])
    served = data["accepted"][0]["runs"]
    assert [r["served_from_run_id"] for r in served] == [own[0]["id"], own[1]["id"]]
    assert [r["status"] for r in served] == ["succeeded", "queued"]  # each follows its representative
    assert (data["runs_created"], data["runs_trained"], data["runs_served"]) == (2, 2, 2)
    assert api.app.state.rebench.dispatcher.enqueued == sent  # nothing new to train
    # Served from a finished run at creation: the watcher sees results_version move, no refresh.
    deadline = time.monotonic() + 10
    while not (numbers := api.get("/v1/archs/3", params={"dataset": "cifar10"}).json()["datasets"]["cifar10"]
               ["rescaled"]):
        assert time.monotonic() < deadline, "the served number never reached the read model"
        time.sleep(0.05)
    assert numbers[0]["per_seed"] == {"4": 88.0} and numbers[0]["served_seeds"] == [4]
    assert numbers[0]["served_from"] == 14483


def test_unknown_dedup_is_a_422_naming_the_field_and_the_choices(api):
    response = api.post("/v1/batches", json={**BODY, "archs": [3], "dedup": "graph"})
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["body", "dedup"]
    assert all(word in detail["msg"] for word in ("dedup", "exact", "isomorphic", "nb201"))

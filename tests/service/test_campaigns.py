"""Campaigns through the real app on PostgreSQL and SQLite: bulk creation of the whole space,
idempotent resubmission, selectors, dedup against existing runs, cancel, and errors."""

from __future__ import annotations

import math

import pytest
import sqlalchemy as sa

from archscale.isomorphism import relabel_key
from archscale.protocols import PROTOCOLS, get_protocol, run_key
from archscale.space import NUM_CELLS, cell_at, format_arch
from service.storage.campaigns import fast_run_key
from service.storage.models import CampaignRun, Run
from tests.service.conftest import Api, wipe_runs

ALL = {"selector": {"all": True}, "datasets": ["cifar10"], "scalings": ["arch-aware"], "protocol": "nb201-200",
       "seeds": [777, 888, 999]}


@pytest.fixture
def fresh(api: Api) -> Api:
    wipe_runs(api.db)
    return api


def run_count(api: Api) -> int:
    with api.db.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(Run)).scalar_one()


def test_fast_run_key_is_run_key():
    for name in PROTOCOLS:
        protocol = get_protocol(name)
        for arch, dataset, scaling, seed in ((0, "cifar10", "arch-aware", 777), (15624, "ImageNet16-120", "mup", 1),
                                             (6111, "cifar10-valid", "standard", 2**31 - 1)):
            assert fast_run_key(arch, dataset, scaling, protocol.fingerprint, seed) == run_key(
                arch, dataset, scaling, protocol, seed)


def test_whole_space_campaign_is_created_in_bulk_and_resubmitting_is_idempotent(fresh: Api):
    made = fresh.post("/v1/campaigns", json={**ALL, "dedup": "isomorphic"})
    assert made.status_code == 201, made.text
    body = made.json()
    degenerate = 341  # S = 0: no arch-aware LR (docs/science.md); skipped, and said so
    trainable = NUM_CELLS - degenerate
    classes = len({relabel_key(cell_at(i)) for i in range(NUM_CELLS)})
    assert body["created"] and body["runs_linked"] == 3 * trainable == run_count(fresh)
    assert body["skipped"] == {"degenerate cells under arch-aware (S = 0)": degenerate}
    assert classes == 14_125 and body["runs_served"] == 3 * 1_464  # relabelling pairs with both members trainable
    assert body["dispatched"] == body["runs_created"] - body["runs_served"]
    status = fresh.get(body["status_url"]).json()
    assert status["counts"]["queued"] == status["total"] == 3 * trainable
    assert status["served"] == body["runs_served"] and status["trained"]["queued"] == body["dispatched"]
    assert status["runs_per_hour"] is None and status["eta_s"] is None and status["gpu_hours"] == 0
    # The same request, seeds in another order and a duplicate: the same campaign, nothing new.
    again = fresh.post("/v1/campaigns", json={**ALL, "seeds": [999, 777, 888, 777], "dedup": "isomorphic"})
    assert again.status_code == 200 and again.json()["id"] == body["id"] and not again.json()["created"]
    assert again.json()["runs_created"] == 0 and run_count(fresh) == 3 * trainable
    # A different campaign over the same runs links them instead of duplicating them.
    other = fresh.post("/v1/campaigns", json={**ALL, "selector": {"indices": [0, 6111]}, "dedup": "isomorphic"})
    assert other.status_code == 201 and other.json()["runs_created"] == 0 and other.json()["runs_linked"] == 6
    assert run_count(fresh) == 3 * trainable


def test_selector_filters_intersect_per_dataset(fresh: Api):
    allowed = ["none", "skip_connect", "nor_conv_3x3"]
    made = fresh.post("/v1/campaigns", json={**ALL, "seeds": [777], "scalings": ["standard"], "dedup": "exact",
                                             "selector": {"exclude_ops": ["nor_conv_1x1", "avg_pool_3x3"]}}).json()
    expected = {i for i in range(NUM_CELLS) if set(_ops(i)) <= set(allowed)}
    with fresh.db.engine.connect() as conn:
        archs = {a for (a,) in conn.execute(sa.select(Run.arch_index).join(CampaignRun, CampaignRun.run_id == Run.id)
                                            .where(CampaignRun.campaign_id == made["id"]))}
    assert len(archs) == 3 ** 6 == made["runs_linked"]  # 3 allowed ops on each of 6 edges
    assert archs == expected
    both = fresh.post("/v1/campaigns", json={**ALL, "seeds": [777], "scalings": ["standard"], "dedup": "exact",
                                             "selector": {"ops": ["avg_pool_3x3", "nor_conv_1x1"],
                                                          "exclude_ops": ["none"]}}).json()
    want = {i for i in range(NUM_CELLS) if {"avg_pool_3x3", "nor_conv_1x1"} <= set(_ops(i)) and "none" not in _ops(i)}
    assert both["runs_linked"] == len(want) > 0
    top = fresh.post("/v1/campaigns", json={**ALL, "seeds": [777], "scalings": ["standard"], "dedup": "exact",
                                            "selector": {"top_percent": 1, "params_max": 900_000}}).json()
    with fresh.db.engine.connect() as conn:
        params = dict(conn.execute(sa.text("SELECT arch_index, params FROM arch_settings WHERE dataset='cifar10'")).all())
        acc = dict(conn.execute(sa.text("SELECT arch_index, value FROM original_results WHERE source='nb201' AND "
                                        "dataset='cifar10' AND split='test' AND metric='acc' AND seed IS NULL")).all())
    cut = sorted(acc.values(), reverse=True)[math.ceil(len(acc) * 0.01) - 1]
    want = {a for a, v in acc.items() if v >= cut and params[a] <= 900_000}
    assert 0 < top["runs_linked"] == len(want)


def _ops(index: int) -> list[str]:
    text = format_arch(cell_at(index))
    return [tok.split("~")[0] for part in text.strip("|").split("|+|") for tok in part.split("|")]


def test_campaign_serves_from_an_existing_trained_run_of_the_class(fresh: Api):
    # 3 and 14483 are the same network (hidden vertices renamed): a batch queued 14483 first.
    batch = fresh.post("/v1/batches", json={"archs": [14483], "dataset": "cifar10", "scaling": "standard",
                                            "seeds": [777]}).json()
    existing = batch["accepted"][0]["runs"][0]["id"]
    made = fresh.post("/v1/campaigns", json={**ALL, "seeds": [777], "scalings": ["standard"],
                                             "selector": {"indices": [3, 14483]}}).json()
    assert made["runs_created"] == 1 and made["runs_served"] == 1 and made["dispatched"] == 0
    with fresh.db.engine.connect() as conn:
        served = conn.execute(sa.select(Run.served_from_run_id, Run.served_by).where(Run.arch_index == 3)).one()
    assert tuple(served) == (existing, "isomorphic")


def test_cancel_stops_queued_runs_but_keeps_runs_a_batch_holds(fresh: Api):
    shared = fresh.post("/v1/batches", json={"archs": [6111], "dataset": "cifar10", "scaling": "standard",
                                             "seeds": [777]}).json()["accepted"][0]["runs"][0]["id"]
    made = fresh.post("/v1/campaigns", json={**ALL, "seeds": [777], "scalings": ["standard"], "dedup": "exact",
                                             "selector": {"indices": [6111, 1835, 0]}}).json()
    assert fresh.client.delete(f"/v1/campaigns/{made['id']}").status_code == 401  # writes need a key
    answer = fresh.client.delete(f"/v1/campaigns/{made['id']}", headers=fresh.headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "cancelled" and body["counts"]["cancelled"] == 2 and body["counts"]["queued"] == 1
    with fresh.db.engine.connect() as conn:
        assert conn.execute(sa.select(Run.status).where(Run.id == shared)).scalar_one() == "queued"
    # Cancelling twice is harmless; resubmitting returns the cancelled campaign as it is.
    assert fresh.client.delete(f"/v1/campaigns/{made['id']}", headers=fresh.headers).json()["counts"] == body["counts"]
    again = fresh.post("/v1/campaigns", json={**ALL, "seeds": [777], "scalings": ["standard"], "dedup": "exact",
                                              "selector": {"indices": [0, 1835, 6111]}}).json()
    assert again["id"] == made["id"] and not again["created"]


def test_a_campaign_belongs_to_its_key_and_its_runs_record_owner_and_queue(fresh: Api):
    """Like runs (#13): another key may not cancel a campaign, an admin key may; the campaign's
    runs record the creating key and the queue the reaper re-sends them to."""
    from service.storage.keys import create_key

    made = fresh.post("/v1/campaigns", json={**ALL, "seeds": [1], "scalings": ["standard"], "dedup": "exact",
                                             "selector": {"indices": [11, 12]}}).json()
    with fresh.db.transaction() as session:
        other = {"X-API-Key": create_key(session, "other").secret}
        admin = {"X-API-Key": create_key(session, "ops", admin=True).secret}
    with fresh.db.engine.connect() as conn:
        owners = conn.execute(sa.select(Run.api_key_id, Run.queue).join(CampaignRun, CampaignRun.run_id == Run.id)
                              .where(CampaignRun.campaign_id == made["id"])).all()
    dispatcher = fresh.app.state.rebench.dispatcher
    assert len(owners) == 2 and {o.queue for o in owners} == {dispatcher.campaign_queue}
    assert len({o.api_key_id for o in owners}) == 1 and owners[0].api_key_id is not None
    refused = fresh.client.delete(f"/v1/campaigns/{made['id']}", headers=other)
    assert refused.status_code == 403 and refused.json()["detail"][0]["loc"] == ["path", "campaign_id"]
    assert fresh.get(f"/v1/campaigns/{made['id']}").json()["status"] == "active"
    assert fresh.client.delete(f"/v1/campaigns/{made['id']}", headers=admin).json()["status"] == "cancelled"


@pytest.mark.parametrize("selector,loc,words", [
    ({}, ["body", "selector", "all"], "selects nothing"),
    ({"top_source": "nb201"}, ["body", "selector", "top_source"], "top_percent"),
    ({"indices": [99999]}, ["body", "selector", "indices", 0], "15624"),
    ({"params_min": True}, ["body", "selector", "params_min"], "boolean"),
])
def test_bad_selectors_name_the_field_and_the_fix(fresh: Api, selector, loc, words):
    answer = fresh.post("/v1/campaigns", json={**ALL, "selector": selector})
    assert answer.status_code == 422, answer.text
    item = answer.json()["detail"][0]
    assert item["loc"] == loc and words in item["msg"]
    assert run_count(fresh) == 0


def test_all_with_filters_is_the_filters_and_an_empty_selection_is_404(fresh: Api):
    """The schema states these cross-field rules; what it cannot state is answered so that a
    schema-valid request is not a 422: an empty selection is 404 (no such archs), like an empty view."""
    both = fresh.post("/v1/campaigns", json={**ALL, "seeds": [1], "selector": {"all": True, "indices": [1, 2]}})
    assert both.status_code == 201 and both.json()["runs_linked"] == 2, both.text
    empty = fresh.post("/v1/campaigns", json={**ALL, "selector": {"params_min": 10, "params_max": 5}})
    assert empty.status_code == 404 and "params_min <= params_max" in empty.json()["detail"][0]["msg"]
    assert empty.json()["detail"][0]["loc"] == ["body", "selector"]
    schema = fresh.get("/openapi.json").json()["components"]["schemas"]["CampaignSelector"]
    assert schema["then"]["required"] == ["top_percent"] and schema["if"]["required"] == ["top_source"]
    assert {"required": ["all"], "properties": {"all": {"const": True}}} in schema["anyOf"]


def test_a_campaign_over_the_server_limit_is_refused_before_anything_is_written(fresh: Api):
    small = Api(fresh.db, max_campaign_runs=100)
    answer = small.post("/v1/campaigns", json={**ALL, "selector": {"top_percent": 1}})  # >= 157 archs x 3 seeds
    msg = answer.json()["detail"][0]["msg"]
    assert answer.status_code == 403 and "at most 100 per campaign" in msg  # valid, over this server's limit
    assert answer.json()["detail"][0]["type"] == "over_limit"
    assert int(msg.split("would create ")[1].split(" runs")[0].replace(",", "")) >= 3 * 157
    assert answer.json()["detail"][0]["loc"] == ["body", "selector"]
    with fresh.db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM campaigns")).scalar_one() == 0
    assert run_count(fresh) == 0


def test_unknown_campaign_is_404_and_the_pages_render(fresh: Api):
    assert fresh.get("/v1/campaigns/999999").status_code == 404
    made = fresh.post("/v1/campaigns", json={**ALL, "seeds": [777], "selector": {"indices": [6111]}}).json()
    page = fresh.get(f"/web/campaigns/{made['id']}")
    assert page.status_code == 200 and f"Campaign #{made['id']}" in page.text and "refresh" in page.text
    listing = fresh.get("/web/campaigns")
    assert listing.status_code == 200 and f"/web/campaigns/{made['id']}" in listing.text
    assert fresh.get("/web/campaigns/abc").status_code == 422

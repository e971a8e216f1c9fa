"""Served runs in the storage layer (both backends): never trained, status follows the
representative through every transition; migration 0002 goes up and down."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from alembic import command

from service.storage.batches import BatchItem, create_batch
from service.storage.database import Database
from service.storage.dedup import create_runs_dedup
from service.storage.errors import Conflict, InvalidField
from service.storage.migrate import alembic_config, current_revision, head_revision
from service.storage.models import Run, utcnow
from service.storage.results import append_epoch, store_final_result
from service.storage.runs import (RunSpec, claim_run, get_run, list_stale_runs, mark_failed, request_cancel,
                                  requeue_run)
from worker.embedded import next_queued_run

from .conftest import finish_run, fresh_postgres

FP = "b" * 64


def pair(seeds=(1,)) -> list[RunSpec]:
    """The relabelling pair 3 / 14483 (same network), one run per seed each."""
    return [RunSpec.resolve(arch, "cifar10", "standard", "smoke", seed) for seed in seeds for arch in (3, 14483)]


def status(db, *run_ids: int) -> list[str]:
    with db.transaction() as session:
        return [get_run(session, run_id).status for run_id in run_ids]


def test_served_runs_are_never_trained(clean_db):
    with clean_db.transaction() as session:
        rep, served = create_runs_dedup(session, pair(), "isomorphic")
    assert served.served_from_run_id == rep.id and rep.served_from_run_id is None
    assert next_queued_run(clean_db) == rep.id  # the embedded runner's queue
    with clean_db.transaction() as session:
        assert [r.id for r in list_stale_runs(session, 0.0)] == [rep.id]
        assert claim_run(session, served.id, "w") is None
    with clean_db.transaction() as session, pytest.raises(Conflict, match="served from run"):
        append_epoch(session, served.id, 1, evals={"test": {"acc": 1.0}})
    with clean_db.transaction() as session:
        claim_run(session, rep.id, "w")
    with clean_db.transaction() as session, pytest.raises(Conflict, match="never trained"):
        store_final_result(session, served.id, fingerprint=FP, code_version="t", metrics={"test": {"acc": 1.0}})


def test_status_follows_the_representative(clean_db):
    with clean_db.transaction() as session:
        rep1, served1, rep2, served2 = create_runs_dedup(session, pair((1, 2)), "isomorphic")
    with clean_db.transaction() as session:
        claim_run(session, rep1.id, "w")
    assert status(clean_db, rep1.id, served1.id) == ["running", "running"]
    with clean_db.engine.begin() as conn:  # the worker died: its heartbeat is old
        conn.execute(sa.update(Run.__table__).where(Run.__table__.c.id == rep1.id)
                     .values(heartbeat_at=utcnow() - timedelta(hours=1)))
    with clean_db.transaction() as session:
        assert requeue_run(session, rep1.id, 60.0) == "queued"
    assert status(clean_db, rep1.id, served1.id) == ["queued", "queued"]
    with clean_db.transaction() as session:
        claim_run(session, rep1.id, "w")
        mark_failed(session, rep1.id, "RuntimeError: out of memory", "trace-1")
    with clean_db.transaction() as session:
        failed = get_run(session, served1.id)
        assert (failed.status, failed.traceback_id) == ("failed", "trace-1")
        assert f"representative run {rep1.id} failed" in failed.error and "out of memory" in failed.error
        request_cancel(session, rep2.id)  # queued: cancelled at once, and so is what it serves
    assert status(clean_db, rep2.id, served2.id) == ["cancelled", "cancelled"]


def test_cancelling_a_served_run_leaves_its_representative_alone(clean_db):
    with clean_db.transaction() as session:
        rep, served = create_runs_dedup(session, pair(), "isomorphic")
        claim_run(session, rep.id, "test-worker")
    with clean_db.transaction() as session:
        assert request_cancel(session, served.id).status == "cancelled"  # no worker holds it: at once
    finish_run(clean_db, rep.id, {"test": {"acc": 90.0}})
    assert status(clean_db, rep.id, served.id) == ["succeeded", "cancelled"]


def test_a_finished_representative_serves_new_members_at_once(clean_db):
    with clean_db.transaction() as session:
        rep = create_runs_dedup(session, pair()[:1], "isomorphic")[0]
    finish_run(clean_db, rep.id, {"test": {"acc": 90.0}})
    items = [BatchItem(0, tuple(pair()[:1])), BatchItem(1, tuple(pair()[1:]))]
    with clean_db.transaction() as session:
        _, per_item = create_batch(session, {}, items, [], 2, dedup="isomorphic")
    (_, [again]), (_, [served]) = per_item
    assert again.id == rep.id and not again.created
    assert (served.status, served.served_from_run_id, served.created) == ("succeeded", rep.id, True)


def test_create_runs_dedup_refuses_an_unknown_mode(clean_db):
    with clean_db.transaction() as session, pytest.raises(InvalidField) as error:
        create_runs_dedup(session, pair(), "graph")
    assert error.value.field == "dedup" and "isomorphic" in error.value.message


def _columns(db: Database) -> set[str]:
    return {c["name"] for c in sa.inspect(db.engine).get_columns("runs")}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_migration_0002_upgrades_and_downgrades(backend, tmp_path):
    def check(url: str) -> None:
        db = Database(url)
        try:
            db.init()
            assert current_revision(db.engine) == head_revision() and "served_by" in _columns(db)
            config = alembic_config()
            with db.engine.begin() as conn:
                config.attributes["connection"] = conn
                command.downgrade(config, "0001")
            assert current_revision(db.engine) == "0001" and "served_by" not in _columns(db)
            indexes = {i["name"] for i in sa.inspect(db.engine).get_indexes("runs")}
            assert "ix_runs_served_from_run_id" not in indexes
            db.init()
            assert current_revision(db.engine) == head_revision() and "served_by" in _columns(db)
        finally:
            db.dispose()

    if backend == "sqlite":
        check(f"sqlite:///{tmp_path / 'm.db'}")
    else:
        with fresh_postgres("rebench_mig") as url:
            check(url)

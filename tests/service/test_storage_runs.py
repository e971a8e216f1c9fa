"""The storage operations the worker relies on, on PostgreSQL and SQLite."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from archscale.protocols import get_protocol, run_key
from service.storage.batches import BatchItem, batch_status, create_batch
from service.storage.errors import Conflict, InvalidField, NotFound, ResultConflict
from service.storage.models import EpochMetric, FinalResult, Run
from service.storage.results import append_epoch, get_curve, get_final_result, store_final_result
from service.storage.runs import (RunSpec, cancel_requested, claim_run, create_runs, get_run, heartbeat,
                                  list_stale_runs, mark_cancelled, mark_failed, request_cancel, requeue_run)

from .conftest import finish_run

FP = "a" * 64


def spec(seed: int, arch: object = 6111, dataset: str = "cifar10", scaling: str = "arch-aware",
         protocol: str = "smoke", precision: str = "fp32") -> RunSpec:
    return RunSpec.resolve(arch, dataset, scaling, protocol, seed, precision)


def new_run(db, seed: int, **kw) -> int:
    with db.transaction() as session:
        return create_runs(session, [spec(seed, **kw)])[0].id


def test_create_runs_is_idempotent_and_keyed_by_run_key(clean_db):
    with clean_db.transaction() as session:
        first = create_runs(session, [spec(1), spec(2)])
    with clean_db.transaction() as session:
        again = create_runs(session, [spec(2), spec(1), spec(1, precision="bf16")])
        run = get_run(session, first[0].id)
        count = session.scalar(sa.select(sa.func.count()).select_from(Run))
    assert [r.created for r in first] == [True, True]
    assert [(r.id, r.created) for r in again[:2]] == [(first[1].id, False), (first[0].id, False)]
    assert again[2].created and again[2].id not in {r.id for r in first}  # precision is part of the identity
    assert run.key == run_key(6111, "cifar10", "arch-aware", get_protocol("smoke"), 1)
    assert (run.status, run.total_epochs, run.attempts) == ("queued", get_protocol("smoke").epochs, 0)
    assert count == 3


def test_twenty_racing_identical_submissions_make_one_run(clean_db):
    """20 threads submit the same run at once: the UNIQUE key lets exactly one insert win."""
    barrier, ids, errors = threading.Barrier(20), [], []

    def submit() -> None:
        try:
            barrier.wait()
            with clean_db.transaction() as session:
                ids.append(create_runs(session, [spec(4242)])[0].id)
        except Exception as exc:  # collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(ids) == 20 and len(set(ids)) == 1
    with clean_db.transaction() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Run)) == 1


def test_invalid_submissions_name_the_field():
    cases = [(dict(arch="|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|"), "arch", "unknown op"),
             (dict(arch=15625), "arch", "outside 0..15624"),
             (dict(dataset="cifar11"), "dataset", "use one of"),
             (dict(scaling="magic"), "scaling", "use one of"),
             (dict(protocol="nb201-300"), "protocol", "use one of"),
             (dict(protocol="nb201-200@v7"), "protocol", "nb201-200@v1"),
             (dict(precision="fp8"), "precision", "use one of"),
             (dict(arch="|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"), "arch", "scaling 'standard'")]
    for kwargs, field, text in cases:
        with pytest.raises(InvalidField) as info:
            spec(7, **kwargs)
        assert info.value.field == field and text in info.value.message, (kwargs, info.value.message)
    with pytest.raises(InvalidField, match="seed"):
        spec(-1)
    # a degenerate cell trains under the standard scaling
    assert spec(7, arch="|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", scaling="standard").arch_index >= 0


def test_claim_is_atomic_and_refuses_finished_or_held_runs(clean_db):
    run_id = new_run(clean_db, 10)
    results: list[object] = []
    barrier = threading.Barrier(8)

    def claim(worker: str) -> None:
        barrier.wait()
        with clean_db.transaction() as session:
            results.append(claim_run(session, run_id, worker))

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for r in results if r is not None]
    assert len(winners) == 1 and winners[0].status == "running" and winners[0].attempts == 1
    with clean_db.transaction() as session:
        assert claim_run(session, run_id, "other") is None  # held by a live worker
        again = claim_run(session, run_id, winners[0].worker_id)  # the same worker may re-claim
        assert again is not None and again.attempts == 2
    with clean_db.transaction() as session:
        assert claim_run(session, run_id, "late", stale_after_s=-1) is not None  # a stale holder loses it
        store_final_result(session, run_id, fingerprint=FP, code_version="t", metrics={"test": {"acc": 50.0}})
    with clean_db.transaction() as session:
        assert claim_run(session, run_id, "w0", stale_after_s=-1) is None  # finished


def test_heartbeat_progress_and_cancellation(clean_db):
    run_id = new_run(clean_db, 11)
    with clean_db.transaction() as session:
        claim_run(session, run_id, "w")
        beat = heartbeat(session, run_id, "w", epoch=1, total_epochs=2)
        assert beat.owned and not beat.cancel_requested
        assert not heartbeat(session, run_id, "intruder").owned
    with clean_db.transaction() as session:
        run = request_cancel(session, run_id)
        assert run.status == "running" and run.cancel_requested and cancel_requested(session, run_id)
        assert heartbeat(session, run_id, "w", epoch=2).cancel_requested
        assert get_run(session, run_id).progress_epoch == 2
        assert mark_cancelled(session, run_id) and not mark_cancelled(session, run_id)
        assert get_run(session, run_id).status == "cancelled"
    queued = new_run(clean_db, 12)
    with clean_db.transaction() as session:
        assert request_cancel(session, queued).status == "cancelled"  # queued: cancelled at once
        assert claim_run(session, queued, "w") is None
    done = new_run(clean_db, 13)
    finish_run(clean_db, done, {"test": {"acc": 90.0}})
    with clean_db.transaction() as session, pytest.raises(Conflict, match="already succeeded"):
        request_cancel(session, done)
    with clean_db.transaction() as session, pytest.raises(NotFound):
        request_cancel(session, 10**9)


def test_epoch_metrics_are_unique_per_epoch(clean_db):
    run_id = new_run(clean_db, 20)
    with clean_db.transaction() as session:
        claim_run(session, run_id, "w")
        assert append_epoch(session, run_id, 1, train_loss=2.0, train_acc=30.0, lr=0.1, seconds=1.0,
                            evals={"test": {"acc": 35.0, "loss": 1.9}})
        assert append_epoch(session, run_id, 2, train_loss=1.5, evals={"test": {"acc": 45.0}})
    with clean_db.transaction() as session:  # a resumed run re-reports epoch 2
        assert not append_epoch(session, run_id, 2, train_loss=1.4, evals={"test": {"acc": 46.0}})
        curve = get_curve(session, run_id)
        rows = session.scalar(sa.select(sa.func.count()).select_from(EpochMetric).where(EpochMetric.run_id == run_id))
    assert rows == 2 and [e.epoch for e in curve] == [1, 2]
    assert curve[1].train_loss == 1.4 and curve[1].evals == {"test": {"acc": 46.0}}
    with clean_db.transaction() as session:
        total = get_protocol("smoke").epochs
        with pytest.raises(InvalidField, match=f"outside 1..{total}"):
            append_epoch(session, run_id, total + 1)
        with pytest.raises(InvalidField, match="not reported for cifar10"):
            append_epoch(session, run_id, 1, evals={"x-test": {"acc": 1.0}})
        with pytest.raises(InvalidField, match="percent"):
            append_epoch(session, run_id, 1, evals={"test": {"acc": 0.93}} | {"train": {"acc": 101.0}})


def test_final_result_is_stored_exactly_once(clean_db):
    run_id = new_run(clean_db, 30)
    with clean_db.transaction() as session:
        claim_run(session, run_id, "w")
        assert store_final_result(session, run_id, fingerprint=FP, code_version="v1",
                                  metrics={"test": {"acc": 93.1, "loss": 0.3}, "train": {"acc": 99.0}})
    with clean_db.transaction() as session:
        assert not store_final_result(session, run_id, fingerprint=FP, code_version="v1",
                                      metrics={"test": {"acc": 93.1}})  # same result again: a no-op
        with pytest.raises(ResultConflict, match="written once"):
            store_final_result(session, run_id, fingerprint="b" * 64, code_version="v1",
                               metrics={"test": {"acc": 1.0}})
    with clean_db.transaction() as session:
        result, metrics = get_final_result(session, run_id)
        run = get_run(session, run_id)
        n = session.scalar(sa.select(sa.func.count()).select_from(FinalResult).where(FinalResult.run_id == run_id))
    assert n == 1 and metrics == {"test": {"acc": 93.1, "loss": 0.3}, "train": {"acc": 99.0}}
    assert (run.status, run.progress_epoch, result.fingerprint) == ("succeeded", run.total_epochs, FP)


def test_the_database_itself_refuses_a_second_final_result(clean_db):
    run_id = new_run(clean_db, 31)
    finish_run(clean_db, run_id, {"test": {"acc": 80.0}})
    with pytest.raises(sa.exc.IntegrityError), clean_db.transaction() as session:
        session.add(FinalResult(run_id=run_id, fingerprint=FP, code_version="x", extra={}))
        session.flush()


def test_failures_are_recorded_and_final(clean_db):
    run_id = new_run(clean_db, 40)
    with clean_db.transaction() as session:
        claim_run(session, run_id, "w")
        assert mark_failed(session, run_id, "CUDA out of memory", traceback_id="tb-123")
        assert not mark_failed(session, run_id, "again")
        run = get_run(session, run_id)
        assert (run.status, run.error, run.traceback_id) == ("failed", "CUDA out of memory", "tb-123")
        with pytest.raises(Conflict, match="failed"):
            store_final_result(session, run_id, fingerprint=FP, code_version="v", metrics={})
        with pytest.raises(InvalidField):
            mark_failed(session, run_id, "")


def test_stale_runs_are_listed_and_requeued(clean_db):
    queued, running = new_run(clean_db, 50), new_run(clean_db, 51)
    with clean_db.transaction() as session:
        claim_run(session, running, "dead-worker")
        old = get_run(session, running)
        old.heartbeat_at = old.heartbeat_at - timedelta(hours=1)
    with clean_db.transaction() as session:
        assert {r.id for r in list_stale_runs(session, older_than_s=600)} == {running}
        assert {r.id for r in list_stale_runs(session, older_than_s=-1)} == {queued, running}
        assert {r.id for r in list_stale_runs(session, older_than_s=600, statuses=["queued"])} == set()
        with pytest.raises(InvalidField, match="never stale"):
            list_stale_runs(session, 1, statuses=["succeeded"])
        assert requeue_run(session, running, older_than_s=600) == "queued"
        assert requeue_run(session, queued, older_than_s=600) is None
        assert get_run(session, running).status == "queued" and get_run(session, running).worker_id is None
    doomed = new_run(clean_db, 52)  # a cancel was requested, then its worker died
    with clean_db.transaction() as session:
        claim_run(session, doomed, "dead-worker")
        request_cancel(session, doomed)
        assert requeue_run(session, doomed, older_than_s=600) is None  # heartbeat still fresh
        assert requeue_run(session, doomed, older_than_s=-1) == "cancelled"
        assert get_run(session, doomed).status == "cancelled"


def test_batch_status_aggregates_its_runs(clean_db):
    items = [BatchItem(0, (spec(60), spec(61))), BatchItem(2, (spec(60, arch=1835), spec(61, arch=1835))),
             BatchItem(3, (spec(60), spec(61)))]  # item 3 names the same arch as item 0
    with clean_db.transaction() as session:
        batch_id, per_item = create_batch(session, {"dataset": "cifar10"}, items, [{"item": 1, "msg": "bad"}], 4)
    assert per_item[0][1][0].id == per_item[2][1][0].id
    finish_run(clean_db, per_item[0][1][0].id, {"test": {"acc": 70.0}})
    with clean_db.transaction() as session:
        request_cancel(session, per_item[1][1][0].id)
        status = batch_status(session, batch_id)
    assert status.total == 4 and status.n_items == 4 and status.errors == [{"item": 1, "msg": "bad"}]
    assert status.counts == {"queued": 2, "running": 0, "succeeded": 1, "failed": 0, "cancelled": 1}
    assert not status.done and {r["item"] for r in status.runs} == {0, 2}
    with clean_db.transaction() as session, pytest.raises(NotFound):
        batch_status(session, 10**9)

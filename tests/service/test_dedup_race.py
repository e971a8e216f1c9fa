"""A representative finishing at the moment a batch is served from it (PostgreSQL, real
concurrent transactions): the served run must end with the representative's status, never
stuck in `running`. `create_runs_dedup` locks the representative's row for that; without the
lock this test catches the lost update in most attempts (checked by removing it)."""

from __future__ import annotations

import threading
import time

import pytest

from service.storage.dedup import create_runs_dedup
from service.storage.results import store_final_result
from service.storage.runs import RunSpec, claim_run, get_run

from .conftest import wipe_runs

pytestmark = pytest.mark.postgres
FP = "c" * 64
ATTEMPTS = 25


def spec(arch: int, seed: int) -> RunSpec:
    return RunSpec.resolve(arch, "cifar10", "standard", "smoke", seed)  # 3 and 14483: one relabelling class


def test_a_batch_served_from_a_finishing_representative_gets_its_final_status(pg_db):
    wipe_runs(pg_db)
    for seed in range(1, ATTEMPTS + 1):
        with pg_db.transaction() as session:
            (rep,) = create_runs_dedup(session, [spec(3, seed)], "isomorphic")
            claim_run(session, rep.id, "racing-worker")
        start, served, errors = threading.Barrier(2), {}, []

        def finish() -> None:
            try:
                start.wait()
                time.sleep(0.002 * (seed % 5))  # vary who gets there first
                with pg_db.transaction() as session:
                    store_final_result(session, rep.id, fingerprint=FP, code_version="race",
                                       metrics={"test": {"acc": 50.0}})
            except Exception as exc:  # surfaced below: a thread's assert would be lost
                errors.append(exc)

        def submit() -> None:
            try:
                start.wait()
                with pg_db.transaction() as session:
                    served["run"] = create_runs_dedup(session, [spec(14483, seed)], "isomorphic")[0]
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=finish), threading.Thread(target=submit)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert not errors, errors
        assert served["run"].served_from_run_id == rep.id
        with pg_db.transaction() as session:
            assert get_run(session, rep.id).status == "succeeded"
            assert get_run(session, served["run"].id).status == "succeeded", f"attempt {seed}: served run stuck"

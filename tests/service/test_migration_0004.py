"""Migration 0004: stored arch-aware runs are labelled with the recipe they ran (arch-aware-derived),
their keys follow, and runs of other scalings are untouched; base_lrs gets the shipped entries."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from archscale.protocols import get_protocol, run_key
from service.storage.base_lrs import sync_base_lrs
from service.storage.database import Database
from service.storage.migrate import upgrade

from .conftest import fresh_postgres

NOW = datetime(2026, 11, 30, tzinfo=timezone.utc)


def _seed_0002(engine: sa.Engine) -> None:
    proto = get_protocol("smoke")
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO datasets VALUES ('cifar10', 10, 32, 50000, '{}', NULL, 'ori-test')"))
        conn.execute(sa.text("INSERT INTO protocols (id, name, version, fingerprint, benchmark, spec, created_at) "
                             "VALUES (1, :n, :v, :f, false, '{}', :t)"),
                     {"n": proto.name, "v": proto.version, "f": proto.fingerprint, "t": NOW})
        conn.execute(sa.text('INSERT INTO architectures ("index", arch_str, unique_key, relabel_key, num_paths, '
                             "sum_l3, degenerate, ops_mask) VALUES (6111, 'a', 'u', 'r', 1, 119, false, 1)"))
        runs = [(1, "arch-aware", {"init": {"scheme": "arch-aware", "degree": "target"}}),
                (2, "arch-aware", None),  # queued: it was submitted meaning the derivation too
                (3, "arch-aware", {"init": {"scheme": "arch-aware", "degree": "source"}}),  # neither recipe
                (4, "standard", {"init": {"scheme": "pytorch-default"}})]
        for run_id, scaling, extra in runs:
            conn.execute(sa.text(
                "INSERT INTO runs (id, key, precision, arch_index, dataset, scaling, protocol_id, seed, status, "
                "progress_epoch, total_epochs, attempts, cancel_requested, created_at, updated_at) VALUES "
                "(:i, :k, 'fp32', 6111, 'cifar10', :s, 1, :seed, :st, 0, 4, 0, false, :t, :t)"),
                {"i": run_id, "k": run_key(6111, "cifar10", scaling, proto, run_id), "s": scaling, "seed": run_id,
                 "st": "queued" if extra is None else "succeeded", "t": NOW})
            if extra is not None:
                conn.execute(sa.text("INSERT INTO final_results (id, run_id, fingerprint, code_version, seconds, "
                                     "extra, created_at) VALUES (:i, :i, 'f', 'c', 1.0, :e, :t)"),
                             {"i": run_id, "e": json.dumps(extra), "t": NOW})
                conn.execute(sa.text(
                    "INSERT INTO final_metrics (result_id, split, metric, value, run_id, arch_index, dataset, "
                    "scaling, protocol_id, precision, seed) VALUES (:i, 'test', 'acc', 50.0, :i, 6111, 'cifar10', "
                    ":s, 1, 'fp32', :i)"), {"i": run_id, "s": scaling})


@pytest.fixture(params=["sqlite", "postgres"])
def old_database(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.sqlite'}"
    else:
        with fresh_postgres("rebench_test_m0004") as url:
            yield url


def test_0004_relabels_what_ran_and_recomputes_keys(old_database):
    db = Database(old_database)
    try:
        assert upgrade(db.engine, "0002") == "0002"
        _seed_0002(db.engine)
        upgrade(db.engine)
        with db.engine.begin() as conn:  # what Database.init's reference sync does for base_lrs
            sync_base_lrs(conn)
        proto = get_protocol("smoke")
        with db.engine.connect() as conn:
            runs = {r.id: r for r in conn.execute(sa.text("SELECT id, scaling, key FROM runs"))}
            metrics = dict(conn.execute(sa.text("SELECT run_id, scaling FROM final_metrics")).all())
            # SQLite rebuilds `runs` in 0003 (batch mode): its results must survive (no FK cascade).
            assert conn.execute(sa.text("SELECT count(*) FROM final_results")).scalar_one() == 3
            shipped = conn.execute(sa.text("SELECT value, origin FROM base_lrs WHERE dataset = 'cifar10' AND "
                                           "recipe = 'arch-aware' AND protocol = 'nb201-200'")).all()
        assert {i: r.scaling for i, r in runs.items()} == {1: "arch-aware-derived", 2: "arch-aware-derived",
                                                           3: "arch-aware", 4: "standard"}
        for i in (1, 2):
            assert runs[i].key == run_key(6111, "cifar10", "arch-aware-derived", proto, i)
        assert runs[4].key == run_key(6111, "cifar10", "standard", proto, 4)
        assert metrics == {1: "arch-aware-derived", 3: "arch-aware", 4: "standard"}
        assert (0.46, "released-default") in [tuple(r) for r in shipped]
    finally:
        db.dispose()

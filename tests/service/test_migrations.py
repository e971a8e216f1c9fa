"""Migrations: the real Alembic scripts build exactly the models' schema, on both backends,
and ``rebench db upgrade`` finds them from any working directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from service.storage.database import Database
from service.storage.migrate import current_revision, head_revision
from service.storage.models import Base

ROOT = Path(__file__).resolve().parents[2]


def test_migrated_schema_matches_the_models(db):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []
    assert current_revision(db.engine) == head_revision() and db.is_current()


def test_reference_data_is_complete(db):
    with db.engine.connect() as conn:
        counts = {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
                  for t in ("architectures", "arch_settings", "datasets")}
        row = conn.execute(sa.text('SELECT arch_str, sum_l3, degenerate FROM architectures WHERE "index" = 6111')).one()
        lr, params = conn.execute(sa.text("SELECT lr, params FROM arch_settings WHERE arch_index = 6111 "
                                          "AND dataset = 'cifar10'")).one()
        degenerate = conn.execute(sa.text("SELECT count(*) FROM architectures WHERE degenerate")).scalar_one()
    assert counts == {"architectures": 15_625, "arch_settings": 62_500, "datasets": 4}
    assert row[1] == 119 and not row[2] and degenerate == 341
    assert params == 1_073_466 and abs(lr - 0.46 / 119 ** 0.5) < 1e-12


def test_reference_rows_equal_the_science_core(db):
    """Spot-check the stored per-setting facts against archscale.report.summary_row."""
    from archscale.datasets import DATASETS
    from archscale.report import summary_row
    from archscale.space import cell_at

    indices = [0, 1835, 6111, 9999, 15624] + [i for i in range(0, 15625, 1531)]
    with db.engine.connect() as conn:
        stored = {(r.arch_index, r.dataset): r for r in conn.execute(sa.text(
            "SELECT arch_index, dataset, lr, params, flops FROM arch_settings"))}
        keys = {r[0]: r[1:] for r in conn.execute(sa.text(
            'SELECT "index", arch_str, unique_key, relabel_key, num_paths, sum_l3, degenerate FROM architectures'))}
    for index in indices:
        for dataset in DATASETS:
            row = summary_row(cell_at(index), dataset)
            got = stored[(index, dataset)]
            assert (got.params, got.flops) == (row["params"], row["flops"]), (index, dataset)
            assert got.lr == row["lr"] or abs(got.lr - row["lr"]) < 1e-12, (index, dataset)
        assert keys[index] == (row["arch_str"], row["unique_key"], row["relabel_key"], row["num_paths"],
                               row["sum_l3"], row["degenerate"])


def test_upgrade_twice_is_a_no_op(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        assert db.init() == db.init() == head_revision()
    finally:
        db.dispose()


def test_cli_db_upgrade_works_from_any_directory(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {**os.environ, "DATABASE_URL": url}
    cli = [sys.executable, "-c", "from service.cli import app; app()"]
    done = subprocess.run([*cli, "db", "upgrade"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"revision {head_revision()}" in done.stdout
    current = subprocess.run([*cli, "db", "current"], cwd="/", env=env, capture_output=True, text=True, timeout=60)
    assert current.returncode == 0 and "up to date" in current.stdout
    bad = subprocess.run([*cli, "db", "upgrade", "--database-url", "nosuchdb://x"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--database-url" in bad.stderr


def test_migrations_live_at_the_top_level_and_are_the_ones_applied():
    """The layout the design card names: ``migrations/`` beside ``service/`` and ``worker/``,
    and the scripts `rebench db upgrade` applies are those files (no stale copy elsewhere)."""
    from service.storage.migrate import alembic_config

    assert (ROOT / "migrations" / "versions").is_dir() and not (ROOT / "service" / "migrations").exists()
    location = Path(alembic_config().get_main_option("script_location")).resolve()
    assert location == (ROOT / "migrations").resolve()
    assert "script_location = %(here)s/migrations" in (ROOT / "alembic.ini").read_text()

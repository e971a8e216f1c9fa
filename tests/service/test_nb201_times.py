"""NB201's recorded training times for campaign cost ratios: the imported ``original_costs``
table first, the cost file only where nothing was imported, cifar10 estimated and said so."""

from __future__ import annotations

import csv
import gzip

import pytest
import sqlalchemy as sa

from service.storage.models import OriginalCost, ResultImport
from service.storage.nb201_times import recorded_train_seconds
from tests.conftest import data_dir


def test_the_imported_table_wins_over_the_file_and_cifar10_is_an_estimate(db, tmp_path):
    cost = data_dir() / "nb201_tss_hp200_cost.csv.gz"
    if not cost.exists():
        pytest.skip(f"{cost} not found")
    with gzip.open(cost, "rt") as f:
        from_file = {int(r["arch_index"]): float(r["train_all_time"]) for r in csv.DictReader(f)
                     if r["dataset"] == "cifar10-valid" and r["arch_index"] in ("0", "6111")}
    with db.engine.connect() as conn:
        if conn.execute(sa.select(sa.func.count()).select_from(OriginalCost)).scalar_one():
            pytest.skip("this database already holds imported costs")
        # Nothing imported: the file answers.
        by_file = recorded_train_seconds("cifar10-valid", cost, conn)
        assert by_file is not None and by_file.seconds[6111] == from_file[6111] and cost.name in by_file.note
        assert recorded_train_seconds("cifar10-valid", None, conn) is None
        # Imported rows (distinct values, to tell them from the file's) win; the transaction is rolled back.
        import_id = conn.execute(sa.insert(ResultImport).values(
            source="nb201", importer="test", path="x", rows=2, provenance="test").returning(ResultImport.id)
        ).scalar_one()
        conn.execute(sa.insert(OriginalCost), [
            {"source": "nb201", "arch_index": a, "dataset": "cifar10-valid", "epochs": 200, "n_seeds": 3,
             "train_all_time": 1000.0 + a, "import_id": import_id} for a in (0, 6111)])
        table = recorded_train_seconds("cifar10-valid", cost, conn)
        assert table is not None and table.seconds == {0: 1000.0, 6111: 7111.0} and "import-nb201" in table.note
        estimate = recorded_train_seconds("cifar10", cost, conn)
        assert estimate is not None and estimate.seconds[6111] == 2 * 7111.0 and "estimated" in estimate.note
        conn.rollback()  # leave the session's database as it was

"""``rebench import-nb201``: the real CSV on both backends, idempotent, checked against the
data README; the .pth / NATS importers against a fake exposing the real API's methods."""

from __future__ import annotations

import gzip
import random

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from archscale.datasets import DATASETS
from archscale.space import NUM_CELLS, cell_at, format_arch
from service.cli import app
from service.storage.database import Database
from service.storage.errors import InvalidField
from service.storage.originals import import_bench_api, import_csv, load_nas201_api, load_nats_tss


def _count(db: Database, where: str = "1=1") -> int:
    with db.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM original_results WHERE {where}")).scalar_one()


def _value(db: Database, source: str, index: int, dataset: str, split: str) -> float:
    with db.engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT value FROM original_results WHERE source = :s AND arch_index = :i AND dataset = :d "
            "AND split = :p AND seed IS NULL"), dict(s=source, i=index, d=dataset, p=split)).scalar_one()


def test_csv_import_matches_the_data_readme(db):
    # The session fixture imported it; the README's check values for the all-skip cell (1835).
    assert _count(db, "source = 'nb201'") == 93_750 and _count(db, "source = 'nats-tss'") == 46_875
    expected = {("cifar10-valid", "valid"): 39.77, ("cifar10", "test"): 54.30, ("cifar100", "x-valid"): 15.03,
                ("cifar100", "x-test"): 15.61, ("ImageNet16-120", "x-valid"): 16.43,
                ("ImageNet16-120", "x-test"): 16.32}
    for (dataset, split), value in expected.items():
        assert round(_value(db, "nb201", 1835, dataset, split), 2) == value
    with db.engine.connect() as conn:
        best = conn.execute(sa.text("SELECT max(value) FROM original_results WHERE source = 'nb201' AND "
                                    "dataset = 'cifar10' AND split = 'test'")).scalar_one()
        meta = conn.execute(sa.text("SELECT DISTINCT aggregation, epochs, metric FROM original_results")).all()
        provenance = conn.execute(sa.text("SELECT source, sha256, rows FROM result_imports ORDER BY source")).all()
    assert round(best, 2) == 94.37 and meta == [("seed-mean", 200, "acc")]
    assert [(p[0], p[2]) for p in provenance] == [("nats-tss", 46_875), ("nb201", 93_750)]
    assert all(len(p[1]) == 64 for p in provenance)


def test_reimport_replaces_instead_of_duplicating(tmp_path, nb201_csv):
    db = Database(f"sqlite:///{tmp_path / 'imp.db'}")
    try:
        db.init()
        for _ in range(2):
            with db.engine.begin() as conn:
                report = import_csv(conn, nb201_csv)
        assert report.rows == {"nb201": 93_750, "nats-tss": 46_875}
        assert _count(db) == 140_625
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM result_imports")).scalar_one() == 2
    finally:
        db.dispose()


def test_a_csv_with_another_index_order_is_refused(tmp_path, nb201_csv):
    lines = gzip.open(nb201_csv, "rt").read().splitlines()
    swapped = lines[1].replace(lines[1].split(",")[1], format_arch(cell_at(5)), 1)  # index 0 given arch 5
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([lines[0], swapped, *lines[2:]]) + "\n")
    db = Database(f"sqlite:///{tmp_path / 'bad.db'}")
    try:
        db.init(sync=False)
        with pytest.raises(InvalidField, match="another index order"), db.engine.begin() as conn:
            import_csv(conn, bad)
    finally:
        db.dispose()


def test_cli_import_nb201(tmp_path, nb201_csv):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    result = CliRunner().invoke(app, ["import-nb201", str(nb201_csv), "--database-url", url])
    assert result.exit_code == 0, result.output
    assert "nb201: 93,750 rows, nats-tss: 46,875 rows" in result.output
    missing = CliRunner().invoke(app, ["import-nb201", str(tmp_path / "nope.csv"), "--database-url", url])
    assert missing.exit_code == 2 and "does not exist" in missing.output
    pth = tmp_path / "NAS-Bench-201-v1_1-096897.pth"
    pth.write_bytes(b"")
    no_package = CliRunner().invoke(app, ["import-nb201", str(pth), "--database-url", url])
    assert no_package.exit_code == 2 and "pip install 'nb201-rebench[import]'" in no_package.output


class FakeArchResults:
    def __init__(self, seeds: dict[str, list[int]]):
        self.seeds = seeds

    def get_dataset_seeds(self, dataset: str) -> list[int]:
        return self.seeds[dataset]


class FakeBenchAPI:
    """The subset of NASBench201API / NATS-Bench tss the importer calls, with made-up numbers."""

    def __init__(self) -> None:
        self.calls: set[str] = set()
        rng = random.Random(0)
        self.acc = {(i, d, s): round(rng.uniform(10, 90), 2) for i in range(NUM_CELLS) for d in DATASETS
                    for s in (777, 888)}

    def __len__(self) -> int:
        return NUM_CELLS

    def arch(self, index: int) -> str:
        self.calls.add("arch")
        return format_arch(cell_at(index))

    def query_meta_info_by_index(self, index: int, hp: str = "12") -> FakeArchResults:
        self.calls.add("query_meta_info_by_index")
        assert hp == "200"
        return FakeArchResults({d: [777, 888] if index % 2 else [777] for d in DATASETS})

    def get_more_info(self, index, dataset, iepoch=None, hp="12", is_random=True):  # noqa: ANN001
        self.calls.add("get_more_info")
        assert hp == "200" and iepoch is None and is_random is not True  # never the API's random defaults
        seeds = [777, 888] if index % 2 else [777]
        values = [self.acc[(index, dataset, s)] for s in (seeds if is_random is False else [is_random])]
        acc = sum(values) / len(values)
        info = {"train-accuracy": 99.0, "valid-accuracy": acc, "test-accuracy": acc - 1}
        if dataset == "cifar10":
            del info["valid-accuracy"]  # NB201 reports only ori-test for cifar10
        return info


def test_bench_api_importer_with_a_fake_api(tmp_path):
    api = FakeBenchAPI()
    db = Database(f"sqlite:///{tmp_path / 'pth.db'}")
    try:
        db.init()
        with db.engine.begin() as conn:
            report = import_bench_api(conn, api, "nb201", "nas_201_api", "fake.pth")
        assert api.calls == {"arch", "query_meta_info_by_index", "get_more_info"}
        # splits per setting: cifar10-valid valid; cifar10 test; cifar100 and IN16 x-valid + x-test
        means = 15_625 * (1 + 1 + 2 + 2)
        seeds = 6 * (7_813 * 1 + 7_812 * 2)  # even indices have one seed, odd ones two
        assert report.rows == {"nb201": means + seeds} and _count(db) == means + seeds
        assert _value(db, "nb201", 3, "cifar100", "x-valid") == pytest.approx(
            (api.acc[(3, "cifar100", 777)] + api.acc[(3, "cifar100", 888)]) / 2)
        with db.engine.connect() as conn:
            per_seed = conn.execute(sa.text(
                "SELECT seed, value FROM original_results WHERE arch_index = 3 AND dataset = 'cifar10' "
                "AND aggregation = 'seed' ORDER BY seed")).all()
        assert per_seed == [(777, api.acc[(3, "cifar10", 777)] - 1), (888, api.acc[(3, "cifar10", 888)] - 1)]
        with db.engine.begin() as conn:  # idempotent
            import_bench_api(conn, api, "nb201", "nas_201_api", "fake.pth")
        assert _count(db) == means + seeds
    finally:
        db.dispose()


def test_missing_packages_say_how_to_install_them(tmp_path):
    for loader, package in ((load_nas201_api, "nas_201_api"), (load_nats_tss, "nats_bench")):
        with pytest.raises(InvalidField, match=rf"{package} package: pip install 'nb201-rebench\[import\]'"):
            loader(tmp_path / "x")

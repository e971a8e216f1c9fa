"""A live server holding all of NB201's imported numbers and a small re-trained series (test fixtures).

The database (PostgreSQL or SQLite) gets the three ``shared/data`` CSVs through the importers
and, as TEST DATA written through the storage calls a worker makes, ``arch-aware`` runs under
``nb201-12`` on cifar10-valid for every cell built from ``RETRAINED_OPS`` (64 cells, one or two
seeds each). Their numbers come from :func:`retrained_epoch`, so a test can recompute any of
them; epoch times are multiples of 1/4 s, so sums are exact in any order.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from itertools import product
from pathlib import Path

from archscale.protocols import get_protocol, run_fingerprint
from archscale.space import index_of, parse_arch
from service.storage.database import Database
from service.storage.results import append_epoch, store_final_result
from service.storage.runs import RunSpec, claim_run, create_runs

from .conftest import fresh_postgres, serve_app, settings_for

__all__ = ["RETRAINED_OPS", "RETRAINED_SOURCE", "retrained_cells", "retrained_seeds", "retrained_epoch", "live_server"]

RETRAINED_OPS = ("nor_conv_3x3", "skip_connect")
RETRAINED_SOURCE = "arch-aware@nb201-12"
EPOCHS = 12


def retrained_cells() -> list[int]:
    return sorted(index_of(parse_arch(f"|{o[0]}~0|+|{o[1]}~0|{o[2]}~1|+|{o[3]}~0|{o[4]}~1|{o[5]}~2|"))
                  for o in product(RETRAINED_OPS, repeat=6))


def retrained_seeds(index: int) -> tuple[int, ...]:
    return (1,) if index % 3 == 0 else (1, 2)


def retrained_epoch(index: int, seed: int, epoch: int) -> dict:
    """Made-up numbers of one epoch (1-based), distinct per cell, seed and epoch."""
    return {"train_loss": 2.0 / epoch + seed / 64, "train_acc": 40.0 + epoch * 4 + (index % 11) / 4,
            "seconds": 3.0 + ((index + seed + epoch) % 8) / 4,
            "evals": {"valid": {"acc": 30.0 + epoch * 3 + (index % 29) / 2 + seed / 8, "loss": 1.5 / epoch}}}


def _write_runs(db: Database) -> None:
    protocol = get_protocol("nb201-12")
    with db.transaction() as session:
        for index in retrained_cells():
            for seed in retrained_seeds(index):
                run_id = create_runs(session, [RunSpec.resolve(index, "cifar10-valid", "arch-aware", "nb201-12",
                                                               seed)])[0].id
                claim_run(session, run_id, "test-worker")
                for epoch in range(1, EPOCHS + 1):
                    row = retrained_epoch(index, seed, epoch)
                    append_epoch(session, run_id, epoch, train_loss=row["train_loss"], train_acc=row["train_acc"],
                                 lr=0.1, seconds=row["seconds"], evals=row["evals"])
                last = retrained_epoch(index, seed, EPOCHS)
                fingerprint = run_fingerprint(protocol=protocol, scaling="arch-aware", dataset="cifar10-valid",
                                              seed=seed, base_lr=0.46, precision="fp32", code_version="test",
                                              split="valid")
                store_final_result(session, run_id, fingerprint=fingerprint, code_version="test", metrics={
                    "valid": last["evals"]["valid"], "train": {"loss": last["train_loss"], "acc": last["train_acc"]}})


@contextmanager
def live_server(backend: str, data: Path, tmp: Path) -> Iterator[dict]:
    from service.api import create_app
    from service.storage.nb201_seeds import import_cost_csv, import_perseed_csv
    from service.storage.originals import import_csv

    with ExitStack() as stack:
        url = stack.enter_context(fresh_postgres("rebench_nb201")) if backend == "postgres" else \
            f"sqlite:///{tmp / 'nb201.db'}"
        db = Database(url)
        stack.callback(db.dispose)
        db.init()
        with db.engine.begin() as conn:
            import_csv(conn, data / "nb201_original.csv.gz")
        with db.engine.begin() as conn:
            import_perseed_csv(conn, data / "nb201_tss_hp200_perseed_valid.csv.gz")
        with db.engine.begin() as conn:
            import_cost_csv(conn, data / "nb201_tss_hp200_cost.csv.gz")
        _write_runs(db)
        app = create_app(settings_for(db))
        url = stack.enter_context(serve_app(app))
        app.state.rebench.snapshots.refresh()
        yield {"url": url, "db": db, "app": app, "backend": backend}

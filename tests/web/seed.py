"""Synthetic re-scaled results for the web tests: clearly test data, written through the
storage API a worker uses (create -> claim -> per-epoch curve -> final result).

They are stored under the ``smoke`` protocol (benchmark = False: never leaderboard numbers)
with ``code_version = "web-test-synthetic"``; the accuracies are the published NB201 number
plus a seeded random shift, so rankings move and seeds disagree a little (a noise floor).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import sqlalchemy as sa

from archscale.protocols import get_protocol, run_fingerprint
from service.storage.database import Database
from service.storage.results import append_epoch, store_final_result
from service.storage.runs import RunSpec, claim_run, create_runs, heartbeat

__all__ = ["Seeded", "seed_synthetic", "SEEDS", "PROTOCOL", "CODE_VERSION"]

SEEDS = (11, 22, 33)
PROTOCOL = "smoke"
CODE_VERSION = "web-test-synthetic"
WORKER = "web-test-worker"


@dataclass(frozen=True)
class Seeded:
    archs: list[int]  # archs with synthetic cifar10 results (3 seeds each)
    running_run: int  # a run left running at epoch 1 of 4
    queued_run: int


def _original(db: Database, n: int) -> dict[int, float]:
    """Top-n NB201 cifar10 test accuracies plus a spread of weaker cells (every 97th)."""
    with db.engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT arch_index, value FROM original_results WHERE source = 'nb201' AND dataset = 'cifar10' "
            "AND split = 'test' AND metric = 'acc' AND epochs = 200 AND seed IS NULL ORDER BY value DESC")).all()
    picked = rows[:n] + rows[n::97][:n]
    return {int(i): float(v) for i, v in picked}


def seed_synthetic(db: Database, n_top: int = 30) -> Seeded:
    rng = random.Random(20240101)
    originals = _original(db, n_top)
    protocol = get_protocol(PROTOCOL)
    shift = {i: rng.gauss(0.0, 1.5) for i in originals}  # per-arch: the re-scaled ranking differs
    archs = []
    with db.transaction() as session:
        for index, value in originals.items():
            try:
                specs = [RunSpec.resolve(index, "cifar10", "arch-aware", PROTOCOL, seed) for seed in SEEDS]
            except Exception:  # degenerate cells cannot be trained arch-aware: skip them
                continue
            archs.append(index)
            for spec, run in zip(specs, create_runs(session, specs)):
                claim_run(session, run.id, WORKER)
                final = min(100.0, max(0.0, value + shift[index] + rng.gauss(0.0, 0.4)))
                for epoch in range(1, protocol.epochs + 1):
                    acc = final * (0.55 + 0.45 * epoch / protocol.epochs)
                    append_epoch(session, run.id, epoch, train_loss=2.3 / epoch, train_acc=acc, lr=0.05,
                                 seconds=1.0, evals={"test": {"acc": acc}})
                fingerprint = run_fingerprint(protocol=protocol, scaling="arch-aware", dataset="cifar10",
                                              seed=spec.seed, base_lr=0.46, precision="fp32",
                                              code_version=CODE_VERSION, split="test")
                store_final_result(session, run.id, fingerprint=fingerprint, code_version=CODE_VERSION,
                                   metrics={"test": {"acc": final}}, extra={"synthetic": True})
        live = create_runs(session, [RunSpec.resolve(6111, "cifar10", "standard", PROTOCOL, 5),
                                     RunSpec.resolve(6111, "cifar10", "standard", PROTOCOL, 6)])
        claim_run(session, live[0].id, WORKER)
        heartbeat(session, live[0].id, WORKER, epoch=1)
    return Seeded(archs, live[0].id, live[1].id)


def set_progress(db: Database, run_id: int, epoch: int) -> None:
    with db.transaction() as session:
        assert heartbeat(session, run_id, WORKER, epoch=epoch).owned

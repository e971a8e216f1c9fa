"""What a run produces: its per-epoch curve and its one final result.

Metric conventions (the API and the leaderboards rely on them): ``acc`` is top-1 accuracy
in percent (0..100, as NB201 publishes), ``loss`` is mean cross-entropy. Splits are
``train`` or one of the setting's evaluation splits (``archscale.datasets``), e.g.
``{"train": {"acc": 99.1, "loss": 0.03}, "x-valid": {"acc": 73.2}, "x-test": {"acc": 73.0}}``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from archscale.datasets import get_dataset

from .bulk import bump_counter, dialect_insert
from .errors import Conflict, InvalidField, ResultConflict
from .lease import Lease, hold
from .models import ACTIVE_STATUSES, EpochMetric, FinalMetric, FinalResult, Run, utcnow
from .runs import get_run
from .serving import sync_served

__all__ = ["Metrics", "validate_metrics", "append_epoch", "get_curve", "store_final_result", "get_final_result"]

#: split -> metric -> value
Metrics = Mapping[str, Mapping[str, float]]
_epochs = EpochMetric.__table__


def validate_metrics(dataset: str, metrics: Metrics, field: str = "metrics") -> dict[str, dict[str, float]]:
    """Check split names against the setting, values finite, accuracies in percent."""
    allowed = {"train", *get_dataset(dataset).eval_splits}
    clean: dict[str, dict[str, float]] = {}
    for split, values in metrics.items():
        if split not in allowed:
            raise InvalidField(f"{field}: split {split!r} is not reported for {dataset}; use one of "
                               f"{sorted(allowed)}", field)
        for name, value in values.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise InvalidField(f"{field}.{split}.{name}: {value!r} is not a finite number", field)
            if name == "acc" and not 0.0 <= value <= 100.0:
                raise InvalidField(f"{field}.{split}.acc = {value}: accuracy is stored in percent (0..100); "
                                   "multiply a fraction by 100", field)
        clean[split] = {name: float(value) for name, value in values.items()}
    return clean


def append_epoch(session: Session, run_id: int, epoch: int, *, train_loss: float | None = None,
                 train_acc: float | None = None, lr: float | None = None, seconds: float | None = None,
                 evals: Metrics | None = None, lease: Lease | None = None) -> bool:
    """Record one epoch (1-based). Re-reporting an epoch (a resumed run) overwrites that epoch's
    row instead of adding one: UNIQUE (run_id, epoch). Returns True when the row is new.

    A worker passes its ``lease``: the row is written only while the lease holds
    (:class:`~service.storage.lease.LeaseLost` otherwise). A finished run's curve is final."""
    if lease is not None:
        hold(session, lease)
    run = get_run(session, run_id)
    _refuse_served(run)
    if run.status not in ACTIVE_STATUSES:
        raise Conflict(f"run {run_id} is {run.status}: its curve is final and takes no more epochs", "run_id")
    if not 1 <= epoch <= run.total_epochs:
        raise InvalidField(f"epoch {epoch} is outside 1..{run.total_epochs} for run {run_id}", "epoch")
    row = {"run_id": run_id, "epoch": epoch, "train_loss": train_loss, "train_acc": train_acc, "lr": lr,
           "seconds": seconds, "evals": validate_metrics(run.dataset, evals or {}, "evals"),
           "recorded_at": utcnow()}
    conn = session.connection()
    existed = conn.execute(sa.select(_epochs.c.id).where(_epochs.c.run_id == run_id,
                                                         _epochs.c.epoch == epoch)).scalar() is not None
    stmt = dialect_insert(conn, _epochs).values(row)
    stmt = stmt.on_conflict_do_update(index_elements=["run_id", "epoch"],
                                      set_={c: getattr(stmt.excluded, c) for c in row if c not in ("run_id", "epoch")})
    conn.execute(stmt)
    return not existed


def get_curve(session: Session, run_id: int) -> list[EpochMetric]:
    return list(session.scalars(sa.select(EpochMetric).where(EpochMetric.run_id == run_id)
                                .order_by(EpochMetric.epoch)))


def store_final_result(session: Session, run_id: int, *, fingerprint: str, code_version: str, metrics: Metrics,
                       seconds: float | None = None, extra: dict[str, Any] | None = None,
                       lease: Lease | None = None) -> bool:
    """Store the run's final result exactly once and mark it succeeded (under ``lease`` when
    a worker passes its lease: :class:`~service.storage.lease.LeaseLost` when it is gone).

    True: stored now. False: the same result (same fingerprint) was already stored, a no-op.
    :class:`ResultConflict` for a different second result; :class:`Conflict` when the run
    was cancelled or failed meanwhile (its result is not kept). The UNIQUE constraint on
    ``final_results.run_id`` backs this up against concurrent writers.
    """
    if lease is not None:
        hold(session, lease)
    run = get_run(session, run_id)
    _refuse_served(run)
    if len(fingerprint) != 64:
        raise InvalidField("fingerprint must be the 64-hex sha256 of archscale.protocols.run_fingerprint",
                           "fingerprint")
    clean = validate_metrics(run.dataset, metrics)
    conn = session.connection()
    results = FinalResult.__table__
    stmt = dialect_insert(conn, results).values(
        run_id=run_id, fingerprint=fingerprint, code_version=code_version, seconds=seconds, extra=extra or {},
        created_at=utcnow()).on_conflict_do_nothing(index_elements=["run_id"]).returning(results.c.id)
    if run.status not in ("running", "succeeded"):
        raise Conflict(f"run {run_id} is {run.status}: its result is not stored; claim it again to rerun", "run_id")
    result_id = conn.execute(stmt).scalar()
    if result_id is None:
        stored = conn.execute(sa.select(results.c.fingerprint).where(results.c.run_id == run_id)).scalar_one()
        if stored != fingerprint:
            raise ResultConflict(f"run {run_id} already has a final result with fingerprint {stored[:12]}..., "
                                 f"not {fingerprint[:12]}...: results are written once; rerun under a new run",
                                 "fingerprint")
        return False
    identity = {"run_id": run_id, "arch_index": run.arch_index, "dataset": run.dataset, "scaling": run.scaling,
                "protocol_id": run.protocol_id, "precision": run.precision, "seed": run.seed}
    rows = [{"result_id": result_id, "split": split, "metric": name, "value": value, **identity}
            for split, values in clean.items() for name, value in values.items()]
    if rows:
        conn.execute(sa.insert(FinalMetric.__table__), rows)
    now = utcnow()
    conn.execute(sa.update(Run.__table__).where(Run.__table__.c.id == run_id).values(
        status="succeeded", progress_epoch=Run.__table__.c.total_epochs, finished_at=now, updated_at=now,
        cancel_requested=False))
    sync_served(conn, run_id)  # the runs it serves succeed with it: the read model resolves their numbers
    bump_counter(conn)
    return True


def _refuse_served(run: Run) -> None:
    if run.served_from_run_id is not None:
        raise Conflict(f"run {run.id} is served from run {run.served_from_run_id} (dedup={run.served_by}): it is "
                       "never trained, so it takes no epochs or results; report them to the representative",
                       "run_id")


def get_final_result(session: Session, run_id: int) -> tuple[FinalResult, dict[str, dict[str, float]]] | None:
    result = session.scalar(sa.select(FinalResult).where(FinalResult.run_id == run_id))
    if result is None:
        return None
    metrics: dict[str, dict[str, float]] = {}
    for m in session.scalars(sa.select(FinalMetric).where(FinalMetric.result_id == result.id)):
        metrics.setdefault(m.split, {})[m.metric] = m.value
    return result, metrics

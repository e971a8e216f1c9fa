"""Batches: many archs submitted together, their runs, and their aggregated status."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from .bulk import copy_rows
from .dedup import create_runs_dedup
from .errors import NotFound
from .models import RUN_STATUSES, Batch, BatchRun, Run, utcnow
from .runs import CreatedRun, RunSpec

__all__ = ["BatchItem", "BatchStatus", "create_batch", "batch_status"]


@dataclass(frozen=True)
class BatchItem:
    """One accepted item of a batch: its position in the request and its run specs (one per seed)."""

    item: int
    specs: tuple[RunSpec, ...]


@dataclass
class BatchStatus:
    id: int
    created_at: Any
    request: dict[str, Any]
    n_items: int
    errors: list[Any]
    counts: dict[str, int] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    served: int = 0  # runs served from a representative (batch dedup), never trained

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def done(self) -> bool:
        return self.counts.get("queued", 0) + self.counts.get("running", 0) == 0


def create_batch(session: Session, request: dict[str, Any], items: Sequence[BatchItem], errors: list[Any],
                 n_items: int, api_key_id: int | None = None, dedup: str = "exact", queue: str | None = None
                 ) -> tuple[int, list[tuple[int, list[CreatedRun]]]]:
    """Store the batch and create (idempotently) the runs of its accepted items; under
    ``dedup`` isomorphic/nb201 one run per class is trained and the others are served
    (``service.storage.dedup``)."""
    batch = Batch(request=request, n_items=n_items, errors=errors, api_key_id=api_key_id, created_at=utcnow())
    session.add(batch)
    session.flush()
    flat = [spec for item in items for spec in item.specs]
    created = create_runs_dedup(session, flat, dedup, api_key_id=api_key_id, queue=queue)
    per_item: list[tuple[int, list[CreatedRun]]] = []
    links: dict[int, int] = {}  # run -> first item naming it (an arch listed twice is one set of runs)
    position = 0
    for item in items:
        runs = created[position:position + len(item.specs)]
        position += len(item.specs)
        per_item.append((item.item, runs))
        for run in runs:
            links.setdefault(run.id, item.item)
    if links:  # a new batch: no link exists yet, so a plain COPY (16,000 links in ~0.1 s)
        copy_rows(session.connection(), BatchRun.__table__, ("batch_id", "run_id", "item"),
                  ((batch.id, run_id, item) for run_id, item in links.items()))
    return batch.id, per_item


def batch_status(session: Session, batch_id: int, include_runs: bool = True) -> BatchStatus:
    batch = session.get(Batch, batch_id)
    if batch is None:
        raise NotFound(f"no batch with id {batch_id}; ids come from POST /v1/batches", "batch_id")
    status = BatchStatus(batch.id, batch.created_at, batch.request, batch.n_items, batch.errors,
                         counts={s: 0 for s in RUN_STATUSES})
    counts = session.execute(sa.select(Run.status, sa.func.count()).join(BatchRun, BatchRun.run_id == Run.id)
                             .where(BatchRun.batch_id == batch_id).group_by(Run.status))
    for name, n in counts:
        status.counts[name] = int(n)
    status.served = int(session.scalar(
        sa.select(sa.func.count()).select_from(BatchRun).join(Run, BatchRun.run_id == Run.id)
        .where(BatchRun.batch_id == batch_id, Run.served_from_run_id.is_not(None))) or 0)
    if include_runs:
        rep = aliased(Run)
        rows = session.execute(
            sa.select(BatchRun.item, Run.id, Run.arch_index, Run.seed, Run.status, Run.progress_epoch,
                      Run.total_epochs, Run.served_from_run_id, Run.served_by, rep.arch_index.label("rep_arch"),
                      rep.progress_epoch.label("rep_epoch"))
            .join(Run, BatchRun.run_id == Run.id).outerjoin(rep, rep.id == Run.served_from_run_id)
            .where(BatchRun.batch_id == batch_id).order_by(BatchRun.item, Run.seed))
        # A served run shows its representative's progress: that is the training it waits for.
        status.runs = [{"item": r.item, "id": r.id, "arch_index": r.arch_index, "seed": r.seed, "status": r.status,
                        "epoch": r.progress_epoch if r.rep_epoch is None else r.rep_epoch,
                        "total_epochs": r.total_epochs, "served_from_run_id": r.served_from_run_id,
                        "served_from_arch": r.rep_arch, "served_by": r.served_by} for r in rows]
    return status

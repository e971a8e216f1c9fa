"""How far a campaign is, how fast it goes, what it has cost, and against NB201's own bill.

Every number is computed from the runs as stored (no counters to drift):

- ``counts``: runs per status; ``trained`` / ``served`` split them (a served run is never trained).
- ``runs_per_hour``: trained runs finished (succeeded or failed) per hour of wall time since the
  campaign's first run started (until now while any is active, else until the last finish).
  It is a *measured* rate: None until a run has finished.
- ``eta_s``: trained runs still queued or running / that rate; None without a rate.
- ``gpu_hours``: the wall seconds of its succeeded trained runs (``final_results.seconds``: train
  + per-epoch evaluation, one device each) / 3600. On a CPU worker these are CPU-hours.
- ``nb201_ratio``: our seconds / NB201's recorded training seconds for the *same* archs and
  dataset, NB201's 200 epochs scaled to the run's epoch count (``service.storage.nb201_times``;
  NB201's time is training only, ours includes evaluation, so the ratio errs high).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .campaigns import get_campaign
from .models import ACTIVE_STATUSES, RUN_STATUSES, CampaignRun, FinalResult, Run, utcnow
from .nb201_times import RECORDED_EPOCHS, recorded_train_seconds

__all__ = ["CampaignStatus", "campaign_status"]

_runs = Run.__table__
_links = CampaignRun.__table__


@dataclass
class CampaignStatus:
    id: int
    status: str
    request: dict[str, Any]
    created_at: Any
    cancelled_at: Any
    n_archs: int
    counts: dict[str, int]
    trained: dict[str, int]
    served: int
    runs_per_hour: float | None
    eta_s: float | None
    gpu_hours: float
    nb201: dict[str, Any] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def done(self) -> bool:
        return all(self.counts.get(s, 0) == 0 for s in ACTIVE_STATUSES)


def _rate(first_start: Any, last_finish: Any, finished: int, active: int) -> float | None:
    if not finished or first_start is None:
        return None
    end = utcnow() if active else (last_finish or utcnow())
    hours = max((end - first_start).total_seconds(), 1e-3) / 3600.0
    return finished / hours


def campaign_status(session: Session, campaign_id: int, cost_file: Path | None = None) -> CampaignStatus:
    campaign = get_campaign(session, campaign_id)
    conn = session.connection()
    member = _runs.c.id.in_(sa.select(_links.c.run_id).where(_links.c.campaign_id == campaign_id))
    counts = {s: 0 for s in RUN_STATUSES}
    trained = {s: 0 for s in RUN_STATUSES}
    served = 0
    for status, is_served, n in conn.execute(
            sa.select(_runs.c.status, _runs.c.served_from_run_id.is_not(None), sa.func.count())
            .where(member).group_by(_runs.c.status, _runs.c.served_from_run_id.is_not(None))):
        counts[status] += int(n)
        if is_served:
            served += int(n)
        else:
            trained[status] += int(n)
    is_trained = _runs.c.served_from_run_id.is_(None)
    first_start, last_finish = conn.execute(
        sa.select(sa.func.min(_runs.c.started_at), sa.func.max(_runs.c.finished_at))
        .where(member, is_trained, _runs.c.started_at.is_not(None))).one()
    # min/max over a TypeDecorator column come back raw on SQLite: parse through the model type.
    first_start, last_finish = (_as_utc(v) for v in (first_start, last_finish))
    finished = trained["succeeded"] + trained["failed"]
    active = trained["queued"] + trained["running"]
    rate = _rate(first_start, last_finish, finished, active)
    ours: dict[tuple[str, int], list[tuple[int, float]]] = defaultdict(list)  # (dataset, epochs) -> (arch, s)
    total_s = 0.0
    for arch, dataset, epochs, seconds in conn.execute(
            sa.select(_runs.c.arch_index, _runs.c.dataset, _runs.c.total_epochs, FinalResult.__table__.c.seconds)
            .join(FinalResult.__table__, FinalResult.__table__.c.run_id == _runs.c.id)
            .where(member, is_trained, _runs.c.status == "succeeded")):
        if seconds is not None:
            total_s += float(seconds)
            ours[(dataset, int(epochs))].append((int(arch), float(seconds)))
    return CampaignStatus(
        campaign.id, campaign.status, campaign.request, campaign.created_at, campaign.cancelled_at, campaign.n_archs,
        counts, trained, served, rate, (active / rate * 3600.0) if rate else None, total_s / 3600.0,
        _nb201_ratio(ours, cost_file, session.connection()))


def _as_utc(value: Any) -> Any:
    from datetime import datetime, timezone

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value


def _nb201_ratio(ours: dict[tuple[str, int], list[tuple[int, float]]], cost_file: Path | None,
                 conn: sa.Connection) -> dict[str, Any]:
    """Per dataset: our seconds and NB201's recorded seconds (scaled to our epochs) over the
    archs that both have; ``ratio`` = ours / NB201's."""
    out: dict[str, Any] = {"ratio": None, "our_seconds": 0.0, "nb201_seconds": 0.0, "runs_compared": 0,
                           "per_dataset": {}, "note": None}
    if not ours:
        out["note"] = "no succeeded trained run yet"
        return out
    notes = []
    for (dataset, epochs), rows in sorted(ours.items()):
        recorded = recorded_train_seconds(dataset, cost_file, conn)
        if recorded is None:
            notes.append(f"{dataset}: no recorded NB201 time (import nb201_tss_hp200_cost.csv.gz with "
                         "`rebench import-nb201`, or set NB201_COST_FILE)")
            continue
        pairs = [(s, recorded.seconds[a] * epochs / RECORDED_EPOCHS) for a, s in rows if a in recorded.seconds]
        if not pairs:
            continue
        mine, theirs = sum(p[0] for p in pairs), sum(p[1] for p in pairs)
        entry = out["per_dataset"].setdefault(dataset, {"our_seconds": 0.0, "nb201_seconds": 0.0, "runs": 0,
                                                        "source": recorded.note})
        entry["our_seconds"] += mine
        entry["nb201_seconds"] += theirs
        entry["runs"] += len(pairs)
        entry["ratio"] = entry["our_seconds"] / entry["nb201_seconds"]
        out["our_seconds"] += mine
        out["nb201_seconds"] += theirs
        out["runs_compared"] += len(pairs)
    if out["nb201_seconds"]:
        out["ratio"] = out["our_seconds"] / out["nb201_seconds"]
    out["note"] = "; ".join(notes) or ("ours: train + evaluation wall time; NB201: training only, 200 epochs "
                                       "scaled to our epoch count")
    return out

"""Campaigns: many runs (up to all 15,625 archs x datasets x scalings x seeds) created in bulk.

A campaign is one normalised request (``request_hash`` UNIQUE: resubmitting returns the same
campaign and creates nothing). Its runs are ordinary runs (same UNIQUE key, so a run that
already exists, trained interactively or by another campaign, is linked, not duplicated),
created by :func:`create_campaign_runs` with a staged bulk insert instead of the batch path's
per-row ``RETURNING`` (46,875 runs in seconds; ``benchmarks/campaign_create.py``):

1. stage the rows in a temporary table (COPY on PostgreSQL, executemany on SQLite:
   ``bulk.copy_rows``), 2. ``INSERT INTO runs SELECT ... FROM stage ON CONFLICT DO NOTHING``,
3. read the ids back with one join, 4. link them to the campaign the same way.

Dedup (``isomorphic`` by default) reuses ``service.storage.dedup``: the same class keys, the
same choice of representative (an existing trained run of any class member first), served
runs marked the same way, nb201-served runs promoted the same way.

Priority: a run linked to a campaign is *bulk* work. The embedded runner takes it only when no
other queued run waits (:func:`next_queued_run_id`); Celery sends it to ``<queue>-bulk``, which
workers drain after ``<queue>`` (``worker.celery_app``: Redis ``queue_order_strategy=priority``).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from archscale.protocols import Protocol as ProtocolSpec

from .bulk import copy_rows, dialect_insert
from .campaign_select import normalise_selector, select_archs
from .dedup import KEY_COLUMNS, _class_keys, _existing_trained, _promote, resolve_dedup
from .errors import NotFound, OverLimit
from .models import ACTIVE_STATUSES, Architecture, BatchRun, Campaign, CampaignRun, Run, UTCDateTime, utcnow
from .reference import ensure_protocol
from .runs import CreatedRun, RunSpec
from .serving import is_trained

__all__ = ["CampaignCreated", "normalise_request", "request_hash", "fast_run_key", "create_campaign",
           "create_campaign_runs", "cancel_campaign", "next_queued_run_id", "get_campaign"]

_runs = Run.__table__
_links = CampaignRun.__table__
_STAGE_COLUMNS = ("key", "precision", "arch_index", "dataset", "scaling", "seed", "status", "served_from_run_id",
                  "served_by")


@dataclass(frozen=True)
class CampaignCreated:
    id: int
    created: bool  # False: the same request existed (idempotent resubmission); nothing was created
    runs_created: int
    runs_linked: int
    runs_served: int
    skipped: dict[str, int]  # why -> count (e.g. degenerate cells under arch-aware)
    to_dispatch: list[int]  # new trained runs to hand to workers (bulk queue), after the commit


def normalise_request(raw: dict[str, Any], protocol: ProtocolSpec) -> dict[str, Any]:
    """Canonical form (sorted, deduplicated lists; the protocol's versioned key) for hashing."""
    return {"selector": normalise_selector(raw["selector"]), "datasets": sorted(set(raw["datasets"])),
            "scalings": sorted(set(raw["scalings"])), "seeds": sorted(set(raw["seeds"])), "protocol": protocol.key,
            "precision": raw.get("precision", "fp32"), "dedup": resolve_dedup(raw.get("dedup", "isomorphic"))}


def request_hash(request: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def fast_run_key(arch: int, dataset: str, scaling: str, fingerprint: str, seed: int) -> str:
    """``archscale.protocols.run_key`` without ``json.dumps`` (3x faster over 46,875 runs); the
    same bytes for the plain ASCII names used here (a test compares them over the registry)."""
    text = (f'{{"arch":{arch},"dataset":"{dataset}","protocol":"{fingerprint}","scaling":"{scaling}",'
            f'"seed":{seed}}}')
    return hashlib.sha256(text.encode()).hexdigest()


def _stage_table() -> sa.Table:
    return sa.Table("campaign_stage", sa.MetaData(), sa.Column("key", sa.String(64)),
                    sa.Column("precision", sa.String(8)), sa.Column("arch_index", sa.Integer),
                    sa.Column("dataset", sa.String(32)), sa.Column("scaling", sa.String(32)),
                    sa.Column("seed", sa.BigInteger), sa.Column("status", sa.String(16)),
                    sa.Column("served_from_run_id", sa.Integer), sa.Column("served_by", sa.String(16)),
                    prefixes=["TEMPORARY"])


def _insert_staged(conn: sa.Connection, rows: list[tuple], protocol_id: int, epochs: int, campaign_id: int,
                   owner: tuple[int | None, str | None] = (None, None)) -> dict[tuple[str, str], sa.Row]:
    """Insert the rows that do not exist yet, link all of them; (key, precision) -> stored row."""
    if not rows:
        return {}
    stage = _stage_table()
    stage.drop(conn, checkfirst=True)
    stage.create(conn)
    try:
        copy_rows(conn, stage, _STAGE_COLUMNS, rows)
        now = sa.literal(utcnow(), UTCDateTime())
        served_final = sa.and_(stage.c.served_from_run_id.is_not(None), stage.c.status.not_in(ACTIVE_STATUSES))
        select = sa.select(
            stage.c.key, stage.c.precision, stage.c.arch_index, stage.c.dataset, stage.c.scaling,
            sa.literal(protocol_id), stage.c.seed, stage.c.status, sa.literal(0), sa.literal(epochs), sa.literal(0),
            sa.false(), stage.c.served_from_run_id, stage.c.served_by, sa.case((served_final, now), else_=None),
            now, now, sa.literal(owner[0], sa.Integer), sa.literal(owner[1], sa.String)
        ).where(sa.true())  # WHERE: SQLite's INSERT ... SELECT ... ON CONFLICT needs one
        # api_key_id: the key that may cancel these runs; queue: where the reaper re-sends them.
        columns = ["key", "precision", "arch_index", "dataset", "scaling", "protocol_id", "seed", "status",
                   "progress_epoch", "total_epochs", "attempts", "cancel_requested", "served_from_run_id",
                   "served_by", "finished_at", "created_at", "updated_at", "api_key_id", "queue"]
        conn.execute(dialect_insert(conn, _runs).from_select(columns, select)
                     .on_conflict_do_nothing(index_elements=["key", "precision"]))
        joined = _runs.join(stage, sa.and_(_runs.c.key == stage.c.key, _runs.c.precision == stage.c.precision))
        found = {(r.key, r.precision): r for r in conn.execute(
            sa.select(_runs.c.id, _runs.c.key, _runs.c.precision, _runs.c.status, _runs.c.served_from_run_id,
                      _runs.c.created_at).select_from(joined))}
        conn.execute(dialect_insert(conn, _links).from_select(
            ["campaign_id", "run_id"], sa.select(sa.literal(campaign_id), _runs.c.id).select_from(joined)
            .where(sa.true())).on_conflict_do_nothing(index_elements=["campaign_id", "run_id"]))
    finally:
        stage.drop(conn)
    return found


def _all_class_keys(conn: sa.Connection, column: str, indices: set[int]) -> dict[int, str]:
    """``dedup._class_keys`` for many archs: one scan of the table instead of IN-lists of 500."""
    if len(indices) < 2000:
        return _class_keys(conn, column, indices)
    archs = Architecture.__table__
    return {i: k for i, k in conn.execute(sa.select(archs.c["index"], archs.c[column])) if i in indices}


def _any_trained(conn: sa.Connection, specs: Sequence[RunSpec], protocol_id: int) -> bool:
    """Could a class member already have a run here? (Skips the per-class lookup on a first campaign.)"""
    return conn.execute(sa.select(_runs.c.id).where(
        _runs.c.protocol_id == protocol_id, is_trained, _runs.c.dataset.in_({s.dataset for s in specs}),
        _runs.c.scaling.in_({s.scaling for s in specs})).limit(1)).first() is not None


def create_campaign_runs(session: Session, campaign_id: int, specs: Sequence[RunSpec], dedup: str = "isomorphic",
                         *, api_key_id: int | None = None, queue: str | None = None) -> tuple[list[CreatedRun], int]:
    """Create (idempotently) and link the campaign's runs in bulk; returns them in input order
    and how many were newly created. All specs share one protocol and precision."""
    if not specs:
        return [], 0
    conn = session.connection()
    protocol = specs[0].protocol
    protocol_id = ensure_protocol(conn, protocol)
    fp = protocol.fingerprint
    keys = [fast_run_key(s.arch_index, s.dataset, s.scaling, fp, s.seed) for s in specs]
    t_create = utcnow()

    def as_created(found: dict, positions: list[int]) -> dict[int, CreatedRun]:
        out = {}
        for p in positions:
            row = found[(keys[p], specs[p].precision)]
            out[p] = CreatedRun(row.id, keys[p], specs[p].seed, row.status, row.created_at >= t_create,
                                row.served_from_run_id)
        return out

    def row(p: int, served_from: int | None = None, status: str = "queued", by: str | None = None) -> tuple:
        s = specs[p]
        return (keys[p], s.precision, s.arch_index, s.dataset, s.scaling, s.seed, status, served_from, by)

    if dedup == "exact":
        positions = list(range(len(specs)))
        created = as_created(_insert_staged(conn, [row(p) for p in positions], protocol_id, protocol.epochs,
                                            campaign_id, (api_key_id, queue)), positions)
    else:
        column = KEY_COLUMNS[dedup]
        key_of = _all_class_keys(conn, column, {s.arch_index for s in specs})
        group_of = [(key_of[s.arch_index], s.dataset, s.scaling, fp, s.seed, s.precision) for s in specs]
        groups: dict[tuple, list[int]] = defaultdict(list)
        for p, group in enumerate(group_of):
            groups[group].append(p)
        existing = (_existing_trained(conn, column, set(key_of.values()), specs)
                    if _any_trained(conn, specs, protocol_id) else {})
        reps = sorted(min(ps, key=lambda p: specs[p].arch_index) for g, ps in groups.items() if g not in existing)
        created = as_created(_insert_staged(conn, [row(p) for p in reps], protocol_id, protocol.epochs,
                                            campaign_id, (api_key_id, queue)), reps)
        rep_of = dict(existing)
        for p in reps:
            rep_of[group_of[p]] = created[p].served_from_run_id or created[p].id
        rep_ids = sorted(set(rep_of.values()))
        status: dict[int, str] = {}
        for start in range(0, len(rep_ids), 1000):
            rows = conn.execute(sa.select(_runs.c.id, _runs.c.status).where(_runs.c.id.in_(rep_ids[start:start + 1000]))
                                .order_by(_runs.c.id).with_for_update())  # as dedup.py: no served run left behind
            status.update(dict(rows.all()))
        members = [p for p in range(len(specs)) if p not in created]
        staged = [row(p, rep_of[group_of[p]], status[rep_of[group_of[p]]], dedup) for p in members]
        created.update(as_created(_insert_staged(conn, staged, protocol_id, protocol.epochs, campaign_id,
                                                             (api_key_id, queue)), members))
    ordered = _promote(conn, [created[p] for p in range(len(specs))], dedup)
    return ordered, sum(1 for r in ordered if r.created)


def get_campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id, populate_existing=True)
    if campaign is None:
        raise NotFound(f"no campaign with id {campaign_id}; ids come from POST /v1/campaigns", "campaign_id")
    return campaign


def create_campaign(session: Session, request: dict[str, Any], protocol: ProtocolSpec,
                    api_key_id: int | None = None, max_runs: int | None = None, *, queue: str | None = None
                    ) -> CampaignCreated:
    """Store the (normalised) campaign and its runs; the same request again returns it as is.
    More than ``max_runs`` runs is refused before anything is written."""
    digest = request_hash(request)
    existing = session.scalar(sa.select(Campaign).where(Campaign.request_hash == digest))
    if existing is not None:
        return CampaignCreated(existing.id, False, 0, existing.n_runs, 0, {}, [])
    conn = session.connection()
    selected = select_archs(conn, request["selector"], request["datasets"])
    degenerate = {i for (i,) in conn.execute(sa.select(Architecture.__table__.c["index"])
                                               .where(Architecture.__table__.c.degenerate.is_(True)))}
    specs: list[RunSpec] = []
    skipped: dict[str, int] = {}
    for dataset, archs in selected.items():
        for scaling in request["scalings"]:
            usable = [a for a in archs if not (scaling == "arch-aware" and a in degenerate)]
            if len(usable) < len(archs):  # docs/science.md: S = 0, no arch-aware LR; standard trains them
                skipped["degenerate cells under arch-aware (S = 0)"] = (
                    skipped.get("degenerate cells under arch-aware (S = 0)", 0) + (len(archs) - len(usable)))
            specs += [RunSpec(a, dataset, scaling, protocol, seed, request["precision"])
                      for a in usable for seed in request["seeds"]]
    if not specs:
        # A valid request that matches nothing (an empty params range, a top-K% of archs that are all
        # degenerate under arch-aware): 404, no such archs, as an empty view, not a 422.
        raise NotFound("the selector matches no trainable arch for these datasets and scalings (check that "
                       "params_min <= params_max); widen it", "selector")
    if max_runs is not None and len(specs) > max_runs:
        raise OverLimit(f"this campaign would create {len(specs):,} runs; this server takes at most "
                           f"{max_runs:,} per campaign (MAX_CAMPAIGN_RUNS): narrow the selector or split it by "
                           "dataset", "selector")
    # Insert the campaign row first, so that a concurrent identical request fails on the UNIQUE hash.
    campaign = Campaign(request_hash=digest, request=request, status="active", n_archs=0, n_runs=0,
                        api_key_id=api_key_id, created_at=utcnow())
    session.add(campaign)
    session.flush()
    runs, n_created = create_campaign_runs(session, campaign.id, specs, request["dedup"], api_key_id=api_key_id,
                                           queue=queue)
    campaign.n_archs = len({s.arch_index for s in specs})
    campaign.n_runs = len({r.id for r in runs})
    served = {r.id for r in runs if r.served_from_run_id is not None}
    dispatch = sorted({r.id for r in runs if r.created and r.served_from_run_id is None})
    return CampaignCreated(campaign.id, True, n_created, campaign.n_runs, len(served), skipped, dispatch)


def cancel_campaign(session: Session, campaign_id: int) -> Campaign:
    """Cancel the campaign's queued runs now and flag its running ones (their workers stop after
    the epoch). Runs that a batch or another active campaign also holds are left alone; a run
    cancelled here takes the runs it serves with it (as ``serving.sync_served`` does)."""
    campaign = get_campaign(session, campaign_id)
    if campaign.status == "cancelled":
        return campaign
    conn = session.connection()
    now = utcnow()
    other = sa.select(_links.c.run_id).join(Campaign.__table__, Campaign.__table__.c.id == _links.c.campaign_id).where(
        _links.c.campaign_id != campaign_id, Campaign.__table__.c.status == "active")
    mine = (_runs.c.id.in_(sa.select(_links.c.run_id).where(_links.c.campaign_id == campaign_id)),
            _runs.c.id.not_in(sa.select(BatchRun.__table__.c.run_id)), _runs.c.id.not_in(other))
    cancelled = [i for (i,) in conn.execute(
        sa.update(_runs).where(*mine, _runs.c.status == "queued")
        .values(status="cancelled", cancel_requested=True, finished_at=now, updated_at=now).returning(_runs.c.id))]
    conn.execute(sa.update(_runs).where(*mine, _runs.c.status == "running")
                 .values(cancel_requested=True, updated_at=now))
    for start in range(0, len(cancelled), 1000):
        chunk = cancelled[start:start + 1000]
        conn.execute(sa.update(_runs).where(_runs.c.served_from_run_id.in_(chunk),
                                            _runs.c.status.in_(ACTIVE_STATUSES))
                     .values(status="cancelled", finished_at=now, updated_at=now,
                             error=sa.literal("representative run was cancelled with its campaign")))
    campaign.status, campaign.cancelled_at = "cancelled", now
    return campaign


def next_queued_run_id(session: Session) -> int | None:
    """The next run the embedded runner trains: the oldest queued interactive run, else the
    oldest queued campaign run. Served runs are never trained."""
    in_campaign = sa.exists().where(_links.c.run_id == _runs.c.id)
    base = sa.select(_runs.c.id).where(_runs.c.status == "queued", is_trained, _runs.c.cancel_requested.is_(False))
    first = session.execute(base.where(~in_campaign).order_by(_runs.c.id).limit(1)).scalar()
    if first is not None:
        return first
    return session.execute(base.order_by(_runs.c.id).limit(1)).scalar()

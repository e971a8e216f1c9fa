"""GET /v1/runs: the live queue (recent runs with their progress)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

__all__ = ["RunProgress", "RunSummary", "RunList"]


class RunProgress(BaseModel):
    epoch: int = Field(description="epochs done")
    total: int = Field(description="epochs of the protocol")
    fraction: float = Field(description="epoch / total, 0..1")


class RunSummary(BaseModel):
    id: int
    arch_index: int
    arch_str: str
    dataset: str
    scaling: str
    protocol: str = Field(description="protocol key, e.g. nb201-200@v1", examples=["smoke@v2"])
    seed: int
    precision: str
    status: str = Field(examples=["queued", "running", "succeeded", "failed", "cancelled"])
    served_from_run_id: int | None = Field(None, description="set when a dedup batch serves this run from another "
                                           "arch's run: its status follows that run, it never trains itself")
    progress: RunProgress
    attempts: int
    cancel_requested: bool
    heartbeat_at: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime


class RunList(BaseModel):
    counts: dict[str, int] = Field(description="runs per status over the whole database (not only this page)")
    status: list[str] = Field(description="the status filter applied (empty: all)")
    limit: int
    runs: list[RunSummary] = Field(description="running first, then queued, then the most recently finished")

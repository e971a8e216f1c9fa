"""POST /v1/batches, GET /v1/batches/{id}."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from archscale.protocols import NB201_SEEDS

from .common import EXAMPLE_ARCH, DatasetName, PrecisionName, ScalingName
from .runs import ArchRef, RunRef, Seed

__all__ = ["BatchCreate", "BatchItemError", "BatchItemAccepted", "BatchAccepted", "BatchRunOut", "BatchOut"]


class BatchCreate(BaseModel):
    """Up to 1,000 archs trained under common options. Items are validated one by one: bad
    items are listed in ``errors``, the others are accepted."""

    model_config = {"extra": "forbid", "json_schema_extra": {"examples": [
        {"archs": [EXAMPLE_ARCH, 6111, 1835], "dataset": "cifar10", "scaling": "arch-aware",
         "protocol": "nb201-200", "seeds": [777, 888, 999]}]}}

    archs: list[ArchRef] = Field(min_length=1, max_length=1000, description="cell strings or indices; at most 1,000")
    dataset: DatasetName
    scaling: ScalingName = "arch-aware"
    protocol: str = Field("nb201-200", max_length=64)
    seeds: list[Seed] = Field(default_factory=lambda: list(NB201_SEEDS), min_length=1, max_length=16)
    precision: PrecisionName = "fp32"


class BatchItemError(BaseModel):
    item: int = Field(description="position in `archs`")
    arch: str
    loc: list[str | int]
    msg: str


class BatchItemAccepted(BaseModel):
    item: int
    arch_index: int
    runs: list[RunRef]


class BatchAccepted(BaseModel):
    id: int
    accepted: list[BatchItemAccepted]
    errors: list[BatchItemError]
    runs_created: int
    runs_existing: int
    dispatched: bool


class BatchRunOut(BaseModel):
    item: int
    id: int
    arch_index: int
    seed: int
    status: str
    epoch: int
    total_epochs: int


class BatchOut(BaseModel):
    id: int
    created_at: datetime
    request: dict
    n_items: int
    errors: list[BatchItemError]
    counts: dict[str, int] = Field(description="runs per status")
    total: int
    done: bool = Field(description="no run is queued or running")
    runs: list[BatchRunOut]

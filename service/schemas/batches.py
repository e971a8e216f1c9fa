"""POST /v1/batches, GET /v1/batches/{id}."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field, StrictInt, StrictStr

from archscale.protocols import NB201_SEEDS

from .common import EXAMPLE_ARCH, DatasetName, PrecisionName, ScalingName
from .patterns import not_degenerate_if_arch_aware
from .runs import ProtocolRef, RunRef, Seed, _json_integer

__all__ = ["DedupName", "BatchCreate", "BatchItemError", "BatchRunRef", "BatchItemAccepted", "BatchAccepted",
           "BatchRunOut", "BatchOut"]

DedupName = Literal["exact", "isomorphic", "nb201"]


class BatchCreate(BaseModel):
    """Up to 1,000 archs trained under common options. Items are validated one by one: bad
    items are listed in ``errors``, the others are accepted."""

    model_config = {"extra": "forbid", "json_schema_extra": {"examples": [
        {"archs": [EXAMPLE_ARCH, 6111, 1835], "dataset": "cifar10", "scaling": "arch-aware",
         "protocol": "nb201-200", "seeds": [777, 888, 999]}], **not_degenerate_if_arch_aware("archs", many=True)}}

    # Items are checked one by one (a bad one comes back in `errors`, the others are accepted), so
    # the schema takes any index or string here: a batch with a bad item is not a refused request.
    archs: list[Annotated[StrictInt | StrictStr, BeforeValidator(_json_integer)]] = Field(
        min_length=1, max_length=1000, description="cell strings or indices 0..15624 (grammar: RunCreate.arch); "
        "at most 1,000; each item is checked on its own and a bad one is listed in `errors`")
    dataset: DatasetName
    scaling: ScalingName = "arch-aware"
    protocol: ProtocolRef = "nb201-200"
    seeds: list[Seed] = Field(default_factory=lambda: list(NB201_SEEDS), min_length=1, max_length=16)
    precision: PrecisionName = "fp32"
    dedup: DedupName = Field(
        "exact", description="exact: one run per arch (default). isomorphic: one trained run per class of "
        "archscale.isomorphism.relabel_key (the same network with hidden vertices renamed; 14,125 classes), the "
        "others served from it. nb201: one per class of NB201's own key (6,466 classes); members do NOT train "
        "identically (see docs/workers.md, Deduplication), so served numbers are approximations. Served runs are "
        "marked everywhere (served_from_run_id) and left out of Kendall tau.")


class BatchItemError(BaseModel):
    item: int = Field(description="position in `archs`")
    arch: str
    loc: list[str | int]
    msg: str


class BatchRunRef(RunRef):
    served_from_run_id: int | None = Field(description="set: this run is not trained; its status and result are "
                                                       "those of this representative run")
    served_from_arch: int | None = Field(description="the representative's arch (official index)")


class BatchItemAccepted(BaseModel):
    item: int
    arch_index: int
    runs: list[BatchRunRef]


class BatchAccepted(BaseModel):
    id: int
    accepted: list[BatchItemAccepted]
    errors: list[BatchItemError]
    dedup: DedupName
    runs_created: int
    runs_existing: int
    runs_trained: int = Field(description="distinct runs of this batch that are (or will be) trained")
    runs_served: int = Field(description="distinct runs of this batch served from a representative, never trained")
    dispatched: bool | None = Field(description="true: handed to the broker; false: the broker could not be reached, "
                                    "the runs wait queued (the reaper re-sends them); null: more than 1,000 new "
                                    "runs, handed to the broker in the background after this answer")


class BatchRunOut(BaseModel):
    item: int
    id: int
    arch_index: int
    seed: int
    status: str
    epoch: int = Field(description="epochs done (a served run: its representative's)")
    total_epochs: int
    served_from_run_id: int | None = None
    served_from_arch: int | None = None
    served_by: str | None = Field(None, description="the dedup key that served it: isomorphic or nb201")


class BatchOut(BaseModel):
    id: int
    created_at: datetime
    request: dict
    n_items: int
    errors: list[BatchItemError]
    counts: dict[str, int] = Field(description="runs per status")
    total: int
    done: bool = Field(description="no run is queued or running")
    served: int = Field(0, description="runs served from a representative (counted in `counts` by status)")
    runs: list[BatchRunOut]

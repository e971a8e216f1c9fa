"""POST /v1/campaigns, GET/DELETE /v1/campaigns/{id}."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal


from pydantic import BaseModel, BeforeValidator, Field, StrictBool, StrictFloat, StrictInt

from archscale.protocols import NB201_SEEDS

from .batches import DedupName
from .common import DatasetName, PrecisionName, ScalingName
from .runs import ProtocolRef, Seed, _json_integer



def _json_number(value: object) -> object:
    """JSON Schema's number: 10 and 10.5 are, true/false are not."""
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean (true/false)")
    return float(value) if isinstance(value, int) else value

_FILTERS = ("ops", "exclude_ops", "params_min", "params_max", "indices", "top_percent")
#: What the server enforces across fields, in the schema: all=true or at least one filter, and
#: top_source only with top_percent (service/storage/campaign_select.py says the same in words).
_NOT_NULL = {"not": {"type": "null"}}
_SELECTOR_RULES = {
    "anyOf": [{"required": ["all"], "properties": {"all": {"const": True}}},
              *({"required": [name], "properties": {name: _NOT_NULL}} for name in _FILTERS)],
    "if": {"required": ["top_source"], "properties": {"top_source": {"type": "string"}}},
    "then": {"required": ["top_percent"], "properties": {"top_percent": _NOT_NULL}}}

__all__ = ["CampaignSelector", "CampaignCreate", "CampaignAccepted", "CampaignOut", "OpName"]

OpName = Literal["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]


class CampaignSelector(BaseModel):
    """Which archs: ``all`` of them, or filters that intersect (per dataset for params and top-K%)."""

    model_config = {"extra": "forbid", "json_schema_extra": _SELECTOR_RULES}
    all: StrictBool = Field(False, description="every one of the 15,625 cells; no filter beside it")
    ops: list[OpName] | None = Field(None, min_length=1, description="keep cells in which every listed op is present")
    exclude_ops: list[OpName] | None = Field(None, min_length=1, description="keep cells in which none is present")
    params_min: Annotated[StrictInt, Field(ge=0, le=2**31 - 1), BeforeValidator(_json_integer)] | None = Field(None, description="at least this many parameters (full-size network)")
    params_max: Annotated[StrictInt, Field(ge=0, le=2**31 - 1), BeforeValidator(_json_integer)] | None = Field(None, description="at most this many parameters")
    indices: list[Annotated[StrictInt, Field(ge=0, le=15624), BeforeValidator(_json_integer)]] | None = Field(None, min_length=1, max_length=15625, description="official indices 0..15624")
    top_percent: Annotated[StrictFloat, Field(gt=0, le=100), BeforeValidator(_json_number)] | None = Field(None, description="the best K% by top_source's published "
                                                                       "accuracy (ties at the cut kept)")
    top_source: Literal["nb201", "nats-tss"] | None = Field(None, description="default nb201")


class CampaignCreate(BaseModel):
    """A re-benchmark of many archs: its runs are created server-side in bulk and trained after
    interactive submissions. The same request again returns the same campaign (idempotent)."""

    model_config = {"extra": "forbid", "json_schema_extra": {"examples": [
        {"selector": {"all": True}, "datasets": ["cifar10"], "scalings": ["arch-aware"], "protocol": "nb201-200",
         "seeds": [777, 888, 999], "dedup": "isomorphic"}]}}

    selector: CampaignSelector
    datasets: list[DatasetName] = Field(min_length=1, max_length=4)
    scalings: list[ScalingName] = Field(default_factory=lambda: ["arch-aware"], min_length=1, max_length=4)
    protocol: ProtocolRef = "nb201-200"
    seeds: list[Seed] = Field(default_factory=lambda: list(NB201_SEEDS), min_length=1, max_length=16)
    precision: PrecisionName = "fp32"
    dedup: DedupName = Field("isomorphic", description="isomorphic (default): one trained run per relabelling "
                                                       "class, the others served; exact; nb201 (approximation)")


class CampaignAccepted(BaseModel):
    id: int
    created: bool = Field(description="False: this request existed already; nothing new was created")
    runs_created: int
    runs_linked: int = Field(description="runs of the campaign, new or existing, trained or served")
    runs_served: int
    skipped: dict[str, int] = Field(description="selected (arch, dataset, scaling) combinations not run, and why")
    dispatched: int = Field(description="new trained runs handed to the workers' bulk queue")
    status_url: str


class CampaignOut(BaseModel):
    id: int
    status: Literal["active", "cancelled"]
    request: dict
    created_at: datetime
    cancelled_at: datetime | None
    n_archs: int
    total: int
    counts: dict[str, int] = Field(description="runs per status (trained and served)")
    trained: dict[str, int] = Field(description="trained runs per status")
    served: int
    done: bool = Field(description="no run is queued or running")
    progress: float = Field(description="finished runs / all runs, 0..1")
    runs_per_hour: float | None = Field(description="measured: trained runs finished per hour since the first start")
    eta_s: float | None = Field(description="trained runs left / runs_per_hour, in seconds; None until measured")
    gpu_hours: float = Field(description="wall hours of succeeded trained runs (one device each)")
    nb201: dict = Field(description="our training seconds vs NB201's recorded ones for the same archs: ratio, "
                                    "per dataset, sources")

"""POST /v1/runs, GET/DELETE /v1/runs/{id}."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, Field, StrictInt, StrictStr, WithJsonSchema

from archscale.protocols import NB201_SEEDS

from .common import EXAMPLE_ARCH, DatasetName, PrecisionName, ProtocolInfo, ScalingName
from .patterns import PROTOCOL_PATTERN, arch_ref_schema, not_degenerate_if_arch_aware

__all__ = ["ArchRef", "Seed", "ProtocolRef", "RunCreate", "RunRef", "RunsAccepted", "EpochOut", "FinalResultOut", "ServedFromOut",
           "RunOut"]

# The schema states the grammar and range that the parser (archscale.space) enforces with its own
# messages; strict types: JSON true/false is no arch and no seed (pydantic would read false as 0).
def _json_integer(value: object) -> object:
    """JSON Schema's integer: 8030.0 is one, true/false are not (pydantic's lax int reads false as 0)."""
    if isinstance(value, bool):
        raise ValueError("expected an integer, got a boolean (true/false)")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


ArchRef = Annotated[StrictInt | StrictStr, BeforeValidator(_json_integer), Field(examples=[EXAMPLE_ARCH, 6111]),
                    WithJsonSchema(arch_ref_schema("cell string or official index 0..15624"))]
Seed = Annotated[StrictInt, Field(ge=0, le=2**31 - 1), BeforeValidator(_json_integer)]
#: protocol names (optionally @v<the version this code trains>) as the server accepts them
ProtocolRef = Annotated[str, Field(max_length=64, json_schema_extra={"pattern": PROTOCOL_PATTERN})]


class RunCreate(BaseModel):
    """One architecture, one setting, one scaling, one protocol, one run per seed."""

    model_config = {"extra": "forbid", "json_schema_extra": {"examples": [
        {"arch": EXAMPLE_ARCH, "dataset": "cifar10", "scaling": "arch-aware", "protocol": "nb201-200",
         "seeds": [777, 888, 999]}], **not_degenerate_if_arch_aware("arch", many=False)}}

    arch: ArchRef
    dataset: DatasetName
    scaling: ScalingName = "arch-aware"
    protocol: ProtocolRef = Field("nb201-200", description="protocol name (archscale.protocols), optionally "
                                                           "'@v<version>'", examples=["nb201-200", "smoke"])
    seeds: list[Seed] = Field(default_factory=lambda: list(NB201_SEEDS), min_length=1, max_length=16,
                              description="one run per seed; NB201 used 777, 888, 999")
    precision: PrecisionName = "fp32"


class RunRef(BaseModel):
    id: int
    seed: int
    status: str
    created: bool = Field(description="False: this run already existed (idempotent resubmission)")


class RunsAccepted(BaseModel):
    arch_index: int
    arch_str: str
    dataset: str
    scaling: str
    protocol: ProtocolInfo
    precision: str
    runs: list[RunRef]
    dispatched: bool = Field(description="False: the broker could not be reached; the runs wait queued")


class EpochOut(BaseModel):
    epoch: int
    train_loss: float | None
    train_acc: float | None
    lr: float | None
    seconds: float | None
    evals: dict[str, dict[str, float]]


class FinalResultOut(BaseModel):
    fingerprint: str
    code_version: str
    seconds: float | None
    metrics: dict[str, dict[str, float]] = Field(description="split -> metric; acc in percent")
    created_at: datetime
    served_from_run_id: int | None = Field(None, description="set: this result was measured on that run (another "
                                                             "arch of the same class), not on this run's arch")


class ServedFromOut(BaseModel):
    """A served run is never trained: its status, progress, curve and result are its representative's."""

    run_id: int
    arch_index: int
    arch_str: str
    dedup: str | None = Field(description="the key that served it: isomorphic (same network) or nb201 "
                                          "(NB201's isomorphism: an approximation)")
    note: str


class RunOut(BaseModel):
    id: int
    key: str = Field(description="archscale.protocols.run_key: the run's identity (with precision)")
    arch_index: int
    arch_str: str
    dataset: str
    scaling: str
    protocol: ProtocolInfo
    seed: int
    precision: str
    status: str = Field(examples=["queued", "running", "succeeded", "failed", "cancelled"])
    progress: dict[str, int] = Field(description="{'epoch': done, 'total': epochs}")
    heartbeat_at: datetime | None
    attempts: int
    cancel_requested: bool
    error: str | None
    traceback_id: str | None
    served_from_run_id: int | None
    served_from: ServedFromOut | None = None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    curve: list[EpochOut]
    result: FinalResultOut | None

"""GET /v1/leaderboard and GET /v1/rankings/kendall."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from archscale.space import OPS

from .common import DatasetName, PrecisionName, ScalingName
from .patterns import PROTOCOL_PATTERN, SOURCE_PATTERN, SPLIT_NAMES
from .sources import SourceInfo

ORIGINAL_SOURCES = ("nb201", "nats-tss")
DEFAULT_KS = (100.0, 90.0, 80.0, 70.0, 60.0, 50.0, 40.0, 30.0, 20.0, 10.0, 5.0, 1.0)

__all__ = ["LeaderboardRow", "LeaderboardOut", "SeedPair", "NoiseFloor", "KendallRow", "KendallOut",
           "LeaderboardQuery", "KendallQuery", "ORIGINAL_SOURCES", "DEFAULT_KS"]


class LeaderboardRow(BaseModel):
    index: int
    arch_str: str
    original: float | None
    rescaled: float | None
    rescaled_std: float | None
    rescaled_n: int
    rescaled_served: int = Field(0, description="seeds of `rescaled` served from another arch's run (batch dedup), "
                                                "not trained on this arch")
    served_from: int | None = Field(None, description="the arch (official index) whose run served this arch's "
                                                      "number; null when measured on the arch itself")
    original_rank: int | None = Field(description="1 = best (ties share), among the view's rank_basis: the archs "
                                                  "with both numbers, or (basis 'each') those with an original one")
    rescaled_rank: int | None = Field(description="1 = best, on the same basis as original_rank")
    rank_change: int | None = Field(description="original_rank - rescaled_rank (same basis); > 0 moved up")
    params: int
    flops: int
    lr: float | None


class LeaderboardOut(BaseModel):
    dataset: str
    split: str
    metric: str
    original: SourceInfo
    rescaled: SourceInfo
    sort: str
    order: str
    filters: dict[str, object]
    total: int = Field(description="rows matching the filters")
    n_common: int = Field(description="archs with both numbers (the population of rank_change)")
    rank_basis: Literal["both", "each"] = Field(
        "both", description="both: every rank is among the n_common archs with both numbers, so a row adds up "
                            "(null ranks for the others); each: nothing in common, each column ranked among its own")
    limit: int
    offset: int
    rows: list[LeaderboardRow]


class SeedPair(BaseModel):
    seeds: list[int]
    tau: float | None
    n: int


class NoiseFloor(BaseModel):
    """Seed-to-seed Kendall tau of one source over the same selected archs."""

    source: str
    split: str | None = Field(None, description="the split whose seeds are compared (a published source's valid "
                                                "split when the compared one has no itemised seeds)")
    pairs: list[SeedPair]
    mean_tau: float | None
    reason: str | None = Field(None, description="why mean_tau is null (too few archs measured under both seeds)")


class KendallRow(BaseModel):
    k: float = Field(description="top-K percent")
    n: int = Field(description="architectures in the selection")
    tau: float | None = Field(description="null when fewer than 2 archs or a constant ranking")
    p_value: float | None
    ties_a: int = Field(description="tied pairs in ranking a")
    ties_b: int = Field(description="tied pairs in ranking b")
    noise_floor: list[NoiseFloor] = Field(description="for each source with >= 2 seeds of per-seed data")


class KendallOut(BaseModel):
    dataset: str
    a: SourceInfo
    b: SourceInfo
    select_by: str = Field(description="which ranking picks the top-K%: a (original), b (rescaled) or union")
    variant: str = Field(description="tau-b (ties-corrected) or tau-c")
    n_common: int = Field(description="archs with a number in both sources: the 100% population")
    reason: str | None = Field(None, description="why there is nothing to compare (n_common < 2): which source has "
                                                 "no numbers for the dataset and split")
    rows: list[KendallRow]
    note: str


# Query parameters as models: FastAPI validates a model in one pydantic call, ~3x cheaper
# per request than 17 separate Query() parameters; unknown parameters are refused.
OpName = Literal[tuple(OPS)]  # type: ignore[valid-type]


class LeaderboardQuery(BaseModel):
    model_config = {"extra": "forbid"}

    dataset: DatasetName = "cifar10"
    split: str | None = Field(None, max_length=16, json_schema_extra={"enum": SPLIT_NAMES},
                              description="valid | test | a split name; default: the test split. A split the "
                                          "dataset does not report: 404")
    metric: Literal["acc"] = Field("acc", description="top-1 accuracy in percent")
    original: Literal[tuple(ORIGINAL_SOURCES)] = Field("nb201", description="published source")  # type: ignore[valid-type]
    scaling: ScalingName = Field("arch-aware", description="scaling of the re-scaled column")
    protocol: str = Field("nb201-200", max_length=64, json_schema_extra={"pattern": PROTOCOL_PATTERN},
                          description="protocol of the re-scaled column (the benchmark protocol by default)")
    precision: PrecisionName = "fp32"
    sort: Literal["rescaled", "original", "rank_change"] = "rescaled"
    order: Literal["desc", "asc"] = "desc"
    ops: list[OpName] = Field([], description="keep cells that contain every one of these ops")
    exclude_ops: list[OpName] = Field([], description="drop cells that contain any of these ops")
    params_min: int | None = Field(None, ge=0, le=10**9)
    params_max: int | None = Field(None, ge=0, le=10**9)
    has_results: bool | None = Field(None, description="true: only cells with re-scaled results; false: without")
    limit: int | None = Field(None, ge=1, le=15625, description="rows per page; default 100 (json), all (csv)")
    offset: int = Field(0, ge=0, le=15625)
    format: Literal["json", "csv"] = "json"


class KendallQuery(BaseModel):
    model_config = {"extra": "forbid"}

    dataset: DatasetName = "cifar10"
    a: str = Field("nb201", max_length=120, json_schema_extra={"pattern": SOURCE_PATTERN},
                   description="source a, '<origin>[:<split>]', e.g. nb201:test")
    b: str = Field("arch-aware", max_length=120, json_schema_extra={"pattern": SOURCE_PATTERN},
                   description="source b, e.g. arch-aware@nb201-200:test, nats-tss, standard@nb201-200/bf16")
    split: str | None = Field(None, max_length=16, json_schema_extra={"enum": SPLIT_NAMES},
                              description="default split for a and b without ':split'; one the dataset does not "
                                          "report: 404")
    k: list[float] = Field(list(DEFAULT_KS), description="top-K percentages, each in (0, 100]; at most 50",
                           json_schema_extra={"items": {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
                                              "maxItems": 50})
    select_by: Literal["original", "rescaled", "union", "a", "b"] = Field(
        "original", description="which ranking picks the top-K%: original = a, rescaled = b, or union")
    variant: Literal["b", "c"] = Field("b", description="tau-b (ties-corrected) or tau-c")

"""GET /v1/archs/{arch}: everything known about one cell."""

from __future__ import annotations

from pydantic import BaseModel, Field

from .common import ProtocolInfo

__all__ = ["InitMultiplier", "InitOut", "SourceOut", "ArchNumber", "ArchDatasetOut", "ArchOut"]


class InitMultiplier(BaseModel):
    edge: str = Field(examples=["0->1"])
    op: str
    C: float = Field(description="weights ~ N(0, C / fan_in), C = 2 / d_in")


class InitOut(BaseModel):
    degree: str = Field(description="in-degree of the edge's target vertex (the paper's derivation, eq. 11-12)")
    in_degrees: list[int]
    multipliers: list[InitMultiplier]


class SourceOut(BaseModel):
    """What the numbers of one source are: stated once per answer, referenced by ``source``."""

    kind: str = Field(description="original (published) or rescaled (our runs)")
    scaling: str = Field(description="standard = NB201's own init and LR 0.1; arch-aware = Chen et al. 2024")
    protocol: ProtocolInfo | None
    precision: str | None
    aggregation: str
    provenance: str


class ArchNumber(BaseModel):
    source: str = Field(description="key into `sources`, e.g. 'nb201' or 'arch-aware@nb201-200@v1/fp32'")
    split: str
    metric: str = Field(description="acc: top-1 accuracy in percent at the last epoch")
    value: float = Field(description="published seed-mean, or the mean over the seeds present")
    std: float | None = Field(description="sample std (ddof=1) over seeds; null with fewer than 2")
    n: int = Field(description="seeds behind value; 0 = a published mean whose seeds are not itemised")
    seeds: list[int]
    per_seed: dict[str, float]
    served_seeds: list[int] = Field([], description="seeds whose number was served from another arch's run (batch "
                                                    "dedup, see served_from), not trained on this arch")
    served_from: int | None = Field(None, description="the arch whose run served them; null: all measured here")


class ArchDatasetOut(BaseModel):
    lr: float | None = Field(description="arch-aware LR = base_lr * sqrt(S_base / S); null when undefined")
    base_lr: float | None
    lr_note: str
    params: int
    flops: int = Field(description="multiply-accumulates of one forward pass, C=16 N=5 network")
    original: list[ArchNumber]
    rescaled: list[ArchNumber]


class ArchOut(BaseModel):
    index: int = Field(examples=[6111])
    arch_str: str
    unique_key: str = Field(description="NB201's isomorphism key (6,466 classes)")
    relabel_key: str = Field(description="pure relabelling key (same network, 14,125 classes)")
    num_paths: int
    sum_l3: int = Field(description="S = sum over input->output paths of L_p^3 (on one cell)")
    degenerate: bool = Field(description="no input->output path: the LR rule is undefined")
    ops: dict[str, int] = Field(description="how many edges carry each op")
    init: InitOut
    sources: dict[str, SourceOut] = Field(description="protocol, scaling, seeds and aggregation of each source")
    datasets: dict[str, ArchDatasetOut]

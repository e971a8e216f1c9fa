"""How a result source is described in every answer about numbers."""

from __future__ import annotations

from pydantic import BaseModel, Field

from .common import ProtocolInfo

__all__ = ["SourceInfo"]


class SourceInfo(BaseModel):
    """Which numbers: protocol, split, seeds and aggregation, always stated."""

    source: str = Field(description="the source string to pass back, e.g. 'nb201' or 'arch-aware@nb201-200@v1/fp32'")
    kind: str = Field(description="original (published) or rescaled (our runs)")
    dataset: str
    split: str
    metric: str = Field(description="acc: top-1 accuracy in percent at the last epoch")
    scaling: str = Field(description="standard = NB201's own init and LR 0.1; arch-aware = Chen et al. 2024")
    protocol: ProtocolInfo | None
    precision: str | None
    seeds: list[int] = Field(description="seeds with per-seed numbers; empty when the source publishes only a mean")
    aggregation: str
    archs: int = Field(description="architectures with a number from this source")
    served_archs: int = Field(0, description="of those, archs whose number was (partly) served from a "
                                             "representative of their isomorphism class (batch dedup): the "
                                             "leaderboard shows and marks them; Kendall tau leaves them out")
    provenance: str

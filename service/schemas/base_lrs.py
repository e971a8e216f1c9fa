"""GET /v1/base-lrs: the base LRs with their provenance."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

__all__ = ["BaseLROut", "BaseLRList"]


class BaseLROut(BaseModel):
    dataset: str
    recipe: str = Field(description="the scaling that uses it: arch-aware | arch-aware-derived | standard-tuned")
    protocol: str = Field(description="protocol name", examples=["nb201-200"])
    protocol_key: str = Field(examples=["nb201-200@v1"])
    value: float = Field(description="the base LR")
    origin: str = Field(description="searched | released-default | manual")
    active: bool = Field(description="whether runs of this (dataset, recipe, protocol) train with it "
                                     "(precedence manual > 3-seed search > released-default > partial search)")
    grid: list[float] = Field(description="searched: the LR grid (one epoch of the base cell per LR and seed)")
    losses: dict[str, list[float | None]] = Field(description="seed -> final training loss per grid LR (null: "
                                                              "diverged)")
    seeds: list[int]
    criterion: str
    code_version: str
    hardware: str
    note: str
    searched_at: str | None
    created_at: datetime


class BaseLRList(BaseModel):
    base_lrs: list[BaseLROut]
    how_to_add: str = Field(description="the command that searches and stores a base LR")

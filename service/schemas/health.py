"""/healthz and /readyz."""

from __future__ import annotations

from pydantic import BaseModel

__all__ = ["Health", "Ready"]


class Health(BaseModel):
    status: str
    version: str


class Ready(BaseModel):
    ready: bool
    checks: dict[str, str]

"""Shapes shared by several resources: errors, protocols, the provenance of a number."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from archscale.datasets import DATASETS
from archscale.protocols import PRECISIONS, SCALINGS

__all__ = ["DatasetName", "ScalingName", "PrecisionName", "ErrorItem", "ErrorResponse", "ProtocolInfo",
           "ERROR_RESPONSES", "NO_BASE_LR_RESPONSES", "EXAMPLE_ARCH"]

DatasetName = Literal[tuple(DATASETS)]  # type: ignore[valid-type]
ScalingName = Literal[tuple(SCALINGS)]  # type: ignore[valid-type]
PrecisionName = Literal[tuple(PRECISIONS)]  # type: ignore[valid-type]
EXAMPLE_ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


class ErrorItem(BaseModel):
    type: str = Field(description="machine-readable kind, e.g. invalid_value, not_found, missing")
    loc: list[str | int] = Field(description="where: ['body', 'arch'], ['query', 'k'], ['path', 'run_id']")
    msg: str = Field(description="what is wrong and how to fix it")


class ErrorResponse(BaseModel):
    """Every 4xx/5xx answer has this shape (FastAPI's validation shape, used for all errors)."""

    detail: list[ErrorItem]

    model_config = {"json_schema_extra": {"examples": [{"detail": [{
        "type": "invalid_value", "loc": ["body", "arch"],
        "msg": "unknown op 'conv_3x3' at position 1 ('conv_3x3~0'). Did you mean 'nor_conv_3x3'? Valid ops: ..."}]}]}}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in ((400, "bad request"), (404, "unknown id or arch"), (413, "body or batch too large"),
                       (422, "invalid field: the message names it and the fix"),
                       (503, "database not ready or warming up"))
}
#: the write operations that need a stored base LR (service.storage.base_lrs.require_base_lr)
NO_BASE_LR_RESPONSES: dict[int | str, dict[str, Any]] = {**ERROR_RESPONSES, 409: ERROR_RESPONSES[422] | {
    "description": "no base LR stored for this dataset and recipe (no_base_lr): the message names the "
                   "`rebench base-lr` command that finds one"}}


class ProtocolInfo(BaseModel):
    name: str = Field(examples=["nb201-200"])
    version: int = Field(examples=[1])
    key: str = Field(examples=["nb201-200@v1"])
    fingerprint: str = Field(description="sha256 of every field of the protocol")
    benchmark: bool = Field(description="False: demo/test protocol, never leaderboard numbers")
    epochs: int
    description: str


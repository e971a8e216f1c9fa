"""Errors raised by the storage layer. Each names the field at fault and the fix; the API
maps them to 4xx answers (``service.api.errors``), the CLI to a red line and exit code 2."""

from __future__ import annotations

__all__ = ["StorageError", "InvalidField", "NotFound", "Conflict", "ResultConflict", "OverLimit", "NoBaseLRStored"]


class StorageError(Exception):
    """Base class: ``field`` is the request field at fault (None when it is not one field)."""

    status_code = 400
    kind = "invalid"

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message, self.field = message, field

    def __str__(self) -> str:
        return self.message


class InvalidField(StorageError):
    """A value that cannot be stored as given (unknown dataset, split outside the setting, ...)."""

    status_code = 422
    kind = "invalid_value"


class NotFound(StorageError):
    status_code = 404
    kind = "not_found"


class Conflict(StorageError):
    """The request is valid but the record's state forbids it (e.g. cancelling a finished run)."""

    status_code = 409
    kind = "conflict"


class ResultConflict(Conflict):
    """A second, different final result for a run that already has one."""

    kind = "result_conflict"


class OverLimit(StorageError):
    """A valid request this server's configuration does not allow (a campaign over
    ``MAX_CAMPAIGN_RUNS``): the schema cannot know the limit, so it is not a 422."""

    status_code = 403
    kind = "over_limit"


class NoBaseLRStored(Conflict):
    """A valid submission whose (dataset, recipe, protocol) has no base LR in the table yet: the
    server's state refuses it, not the request (the same request succeeds after `rebench base-lr`),
    hence 409, not 422 -- a schema-driven client cannot foresee the table."""

    kind = "no_base_lr"

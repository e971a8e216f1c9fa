"""Error types shared by the registries of the science core."""

from __future__ import annotations

__all__ = ["UnknownName"]


class UnknownName(KeyError):
    """A name not in a registry; the message lists the valid names.

    A KeyError (so ``except KeyError`` keeps working) that prints its message plainly:
    KeyError's own ``str`` would wrap it in quotes.
    """

    def __str__(self) -> str:
        return self.args[0]

"""What :class:`service.nb201_client.RebenchAPI` holds in memory: one table per source and setting.

A :class:`SourceTable` is the answer of ``GET /v1/bulk/{dataset}`` (``service.storage.
source_numbers``) with an index -> row map; it answers a key of nas_201_api's dicts for one
arch, as a seed-mean or for one seed, in a few microseconds. :class:`NB201Info` is the dict
those calls return: the held keys are plain items; a key nas_201_api would have but this
service does not hold raises :class:`NotHeld` (naming what is missing and what to pass
instead) when it is read, so it never turns into a ``None`` that breaks arithmetic later.
"""

from __future__ import annotations

from typing import Any

from archscale.protocols import PRECISIONS, PROTOCOLS, SCALINGS
from archscale.space import NUM_CELLS

__all__ = ["NotHeld", "NB201Info", "SourceTable", "parse_source", "PUBLISHED_SOURCES", "HP_PROTOCOLS"]

PUBLISHED_SOURCES = ("nb201", "nats-tss")
#: nas_201_api's ``hp`` -> the protocol that reproduces that NB201 recipe here
HP_PROTOCOLS = {"200": "nb201-200", "12": "nb201-12"}


class NotHeld(KeyError):
    """The service holds no such number: the message names what is missing and what to pass instead.

    A ``KeyError`` (a ``LookupError``), so code that tests ``key in info`` or catches
    ``KeyError`` for absent keys keeps working."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class NB201Info(dict):  # type: ignore[type-arg]
    """A nas_201_api answer: held keys as items; ``not_held[key]`` says why a key is missing.

    ``provenance`` (an attribute, not a key, so the key set stays nas_201_api's) says where
    the numbers come from: source, protocol, split per prefix, seeds."""

    def __init__(self, items: dict[str, Any], not_held: dict[str, str], provenance: dict[str, Any]):
        super().__init__(items)
        self.not_held, self.provenance = not_held, provenance

    def __missing__(self, key: str) -> Any:
        if key in self.not_held:
            raise NotHeld(f"{key!r}: {self.not_held[key]}")
        raise KeyError(key)


def parse_source(source: str | None) -> tuple[str, str | None, str | None]:
    """``None``/``nb201``/``nats-tss`` -> (that, None, None); ``<scaling>[@<protocol>[@v<n>]][/<precision>]``
    -> (scaling, protocol key or None to let ``hp`` pick, precision)."""
    if source is None or source in PUBLISHED_SOURCES:
        return source or "nb201", None, None
    scaling, _, rest = source.partition("@")
    protocol, _, precision = rest.partition("/")
    if "/" in scaling:
        scaling, precision = scaling.split("/", 1)
    if scaling not in SCALINGS:
        raise ValueError(f"source={source!r}: use None (NB201's published numbers), 'nats-tss', or a re-trained "
                         f"series '<scaling>[@<protocol>][/<precision>]' with a scaling from {', '.join(SCALINGS)}, "
                         "e.g. 'arch-aware@nb201-200'")
    precision = precision or "fp32"
    if precision not in PRECISIONS:
        raise ValueError(f"source={source!r}: precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    if not protocol:
        return scaling, None, precision
    name, _, version = protocol.partition("@v")
    if name not in PROTOCOLS or (version and not version.isdigit()):
        raise ValueError(f"source={source!r}: protocol {protocol!r}; use one of {', '.join(PROTOCOLS)} "
                         "(optionally @v<n>)")
    return scaling, f"{name}@v{version or PROTOCOLS[name].version}", precision


class SourceTable:
    """One source x setting, loaded once: ``get(key, index, seed)``, ``seeds_of(index)``."""

    def __init__(self, body: dict[str, Any], etag: str | None = None):
        self.body, self.etag = body, etag
        self.source: str = body["source"]
        self.kind: str = body["kind"]
        self.dataset: str = body["dataset"]
        self.protocol: dict[str, Any] | None = body.get("protocol")
        self.epochs: int | None = self.protocol["epochs"] if self.protocol else None
        self.splits: dict[str, str] = body.get("splits", {})
        self.seeds: list[int] = body["seeds"]
        self.mean: dict[str, list[Any]] = body["mean"]
        self.per_seed: dict[str, list[list[Any]]] = body["per_seed"]
        self.costs: dict[str, list[Any]] = body.get("costs", {})
        self.index: list[int] = body["index"]
        self.row = [-1] * NUM_CELLS
        for position, arch in enumerate(self.index):
            self.row[arch] = position
        self._column = {seed: j for j, seed in enumerate(self.seeds)}
        # seeds per arch: the seeds with any itemised number (drawn from by is_random=True)
        self._arch_seeds: list[list[int]] = [[] for _ in self.index]
        for rows in self.per_seed.values():
            for position, values in enumerate(rows):
                for seed, value in zip(self.seeds, values):
                    if value is not None and seed not in self._arch_seeds[position]:
                        self._arch_seeds[position].append(seed)
        for seeds in self._arch_seeds:
            seeds.sort()

    def has(self, index: int) -> bool:
        return self.row[index] >= 0

    def seeds_of(self, index: int) -> list[int]:
        row = self.row[index]
        return list(self._arch_seeds[row]) if row >= 0 else []

    def get(self, key: str, index: int, seed: int | None = None) -> Any:
        """The value (None: not held); ``seed`` None = the seed-mean."""
        row = self.row[index]
        if row < 0:
            return None
        if seed is None:
            column = self.mean.get(key)
            return None if column is None else column[row]
        rows = self.per_seed.get(key)
        return None if rows is None else rows[row][self._column[seed]]

    def cost(self, key: str, index: int) -> Any:
        column, row = self.costs.get(key), self.row[index]
        return None if column is None or row < 0 else column[row]

    def itemised(self, key: str) -> bool:
        return key in self.per_seed

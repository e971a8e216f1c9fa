"""What the landing page and the plots page show when the URL asks for nothing in particular.

A newcomer's first look must show numbers that exist: the setting (dataset, scaling, protocol,
precision, split) with the most re-scaled results, its cells with results only, sorted by
re-scaled accuracy; with no
re-scaled results at all, the published numbers sorted by accuracy. Each page says which
default it picked and why (``note``); any parameter in the URL turns the choice off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archscale.protocols import PROTOCOLS
from service.api.sources import resolve_split
from service.storage.readmodel import Series, Snapshot

__all__ = ["DefaultView", "busiest_rescaled", "leaderboard_default", "plots_default"]


@dataclass(frozen=True)
class DefaultView:
    params: dict[str, Any] = field(default_factory=dict)
    note: str = ""


def busiest_rescaled(snapshot: Snapshot) -> Series | None:
    """The re-scaled series with the most archs (ties: a benchmark protocol, then the paper's
    arch-aware scaling, then by name)."""
    candidates = [s for s in snapshot.series.values() if s.kind == "rescaled" and s.count > 0]
    if not candidates:
        return None
    return max(candidates, key=lambda s: (s.count, s.protocol is not None and s.protocol.benchmark,
                                          s.key.origin.startswith("arch-aware@"), s.key.origin, s.key.dataset))


def _setting(series: Series) -> dict[str, Any]:
    scaling, rest = series.key.origin.split("@", 1)
    protocol_key, precision = rest.rsplit("/", 1)
    name, version = protocol_key.split("@v")
    protocol = name if name in PROTOCOLS and PROTOCOLS[name].version == int(version) else protocol_key
    params = {"dataset": series.key.dataset, "scaling": scaling, "protocol": protocol, "precision": precision}
    if series.key.split != resolve_split(series.key.dataset, None, []):
        params["split"] = series.key.split
    return params


def leaderboard_default(snapshot: Snapshot) -> DefaultView:
    busiest = busiest_rescaled(snapshot)
    if busiest is None:
        return DefaultView({"sort": "original", "order": "desc"},
                           "No re-scaled results yet: showing the published numbers, best first. Submit runs "
                           "(rebench submit, or rebench demo) and the re-scaled column fills in.")
    params = _setting(busiest)
    return DefaultView({**params, "sort": "rescaled", "order": "desc", "has_results": "true"},
                       f"Showing by default the setting with the most re-scaled results: the {busiest.count} "
                       f"architecture(s) re-trained under {busiest.key.origin} on {busiest.key.dataset} "
                       f"({busiest.key.split} split), best re-scaled first. Pick another setting, or 'any' "
                       "re-scaled results for all 15,625 cells, below.")


def plots_default(snapshot: Snapshot) -> DefaultView:
    busiest = busiest_rescaled(snapshot)
    if busiest is not None:
        return DefaultView({"dataset": busiest.key.dataset, "a": f"nb201:{busiest.key.split}",
                            "b": f"{busiest.key.origin}:{busiest.key.split}"},
                           f"Showing by default NB201's published numbers against the re-scaled results with the "
                           f"most architectures ({busiest.count}, {busiest.key.origin} on {busiest.key.dataset}).")
    if "nats-tss" in {s.key.origin for s in snapshot.series.values() if s.kind == "original" and s.count > 0}:
        return DefaultView({"a": "nb201", "b": "nats-tss"},
                           "No re-scaled results yet: showing NB201's published numbers against NATS-Bench's.")
    return DefaultView({"dataset": "cifar100", "a": "nb201:valid", "b": "nb201:test"},
                       "No re-scaled results yet: showing NB201's published valid against test accuracy "
                       "(cifar100), how far one published ranking moves between two splits.")

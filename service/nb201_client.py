"""A ``nas_201_api`` / ``nats_bench`` (tss) drop-in over this service (httpx; no torch).

    from service.nb201_client import RebenchAPI
    api = RebenchAPI("http://127.0.0.1:8000")                              # NB201's published numbers
    api = RebenchAPI("http://127.0.0.1:8000", source="arch-aware@nb201-200")  # the same calls, re-trained

With no ``source`` every call answers what ``NASBench201API`` answers for the published
200-epoch numbers: same names, keys, types and defaults (``hp='12'``, ``is_random=True``, so
ask for ``hp='200'``: the 12-epoch runs were not published here). ``source`` names a
re-trained series ``<scaling>[@<protocol>[@v<n>]][/<precision>]``: with no protocol, ``hp``
picks ``nb201-200`` or ``nb201-12``; with one, ``hp`` must agree with an NB201 recipe's epochs
(other protocols, e.g. ``smoke``, ignore it).

Each setting is loaded once, lazily, with one request (``GET /v1/bulk/{dataset}``, gzip, ETag),
and answered from memory; ``refresh()`` revalidates. A number this service does not hold
raises :class:`NotHeld` (one documented type, a ``KeyError``) naming what is missing and
what to pass instead: at the call when nothing can be answered (``hp='12'`` on published
numbers), else when the missing key is read (``info['valid-per-time']``). docs/api.md has the
table of calls x settings x sources. A wrong argument raises ValueError naming it.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from archscale.datasets import DATASETS
from archscale.protocols import PROTOCOLS
from archscale.space import NUM_CELLS, ArchStringError, cell_at, format_arch, index_of, parse_arch

from .client import ApiError, RebenchClient
from .nb201_answers import AnswerMixin
from .nb201_tables import HP_PROTOCOLS, PUBLISHED_SOURCES, NB201Info, NotHeld, SourceTable, parse_source

__all__ = ["RebenchAPI", "NotHeld", "NotBenchmarked", "NB201Info", "HP_PROTOCOLS", "NB201_DATASETS"]

NB201_DATASETS = tuple(DATASETS)
NotBenchmarked = NotHeld  # the name before there was one type for everything not held


def _choice(name: str, value: object, valid: Sequence[object]) -> None:
    if value not in valid:
        raise ValueError(f"{name}={value!r} is not supported; use one of {', '.join(map(repr, valid))}")


class RebenchAPI(AnswerMixin):
    """``NASBench201API`` / nats_bench's tss API over HTTP, plus ``submit``/``wait``/``leaderboard``/``kendall``."""

    def __init__(self, url: str | None = None, source: str | None = None, api_key: str | None = None,
                 timeout: float = 30.0, *, client: RebenchClient | None = None, verbose: bool = False):
        self.scaling, self.protocol_key, self.precision = parse_source(source)  # validates before any request
        self.source = source or "nb201"
        self.client = client or RebenchClient(url, api_key=api_key, timeout=timeout)
        self.verbose = verbose
        self._tables: dict[tuple[str, str], SourceTable] = {}
        self._used_time = 0.0

    @property
    def published(self) -> bool:
        return self.scaling in PUBLISHED_SOURCES

    def with_source(self, source: str | None) -> RebenchAPI:
        """The same server and connection, another source (tables are shared where they coincide)."""
        other = RebenchAPI(source=source, client=self.client, verbose=self.verbose)
        other._tables = self._tables
        return other

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> RebenchAPI:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RebenchAPI({self.client.url!r}, source={self.source!r}, {NUM_CELLS} architectures)"

    # -- the space ------------------------------------------------------------------------
    def __len__(self) -> int:
        return NUM_CELLS

    def __getitem__(self, index: int) -> str:
        return self.arch(index)

    def __iter__(self) -> Iterator[str]:
        return (self.arch(i) for i in range(NUM_CELLS))

    def arch(self, index: int) -> str:
        """The canonical NB201 string of cell ``index``."""
        return format_arch(cell_at(index))

    def random(self) -> int:
        """A random index (``random.randint``, as nats_bench)."""
        return random.randint(0, NUM_CELLS - 1)

    def query_index_by_arch(self, arch: object) -> int:
        """An int in range as is (else ValueError); a string looked up exactly (NB201 compares
        strings: another edge order gives -1); an object by its ``tostr()``; else -1."""
        if isinstance(arch, bool):  # bool is an int in Python; NB201 would answer True == 1
            raise ValueError(f"arch={arch!r}: pass an index 0..{NUM_CELLS - 1} or a cell string")
        if isinstance(arch, int):
            if 0 <= arch < NUM_CELLS:
                return arch
            raise ValueError(f"Invalid architecture index {arch} vs [0, {NUM_CELLS}).")
        if not isinstance(arch, str) and hasattr(arch, "tostr"):
            arch = arch.tostr()
        if not isinstance(arch, str):
            return -1
        try:
            cell = parse_arch(arch)
        except ArchStringError:
            return -1
        return index_of(cell) if format_arch(cell) == arch else -1

    def _index(self, arch: object) -> int:
        index = self.query_index_by_arch(arch)
        if index == -1:
            raise ValueError(f"index={arch!r} is not an NB201 cell: pass an index 0..{NUM_CELLS - 1}, the exact "
                             "canonical string (see RebenchAPI.arch(i)) or an object with tostr()")
        return index

    # -- time accounting (nats_bench) -----------------------------------------------------
    @property
    def used_time(self) -> float:
        return self._used_time

    def reset_time(self) -> None:
        self._used_time = 0.0

    @property
    def avaliable_hps(self) -> list[str]:  # sic: nas_201_api's spelling
        if self.published:
            return ["200"]
        if self.protocol_key is None:
            return list(HP_PROTOCOLS)
        name = self.protocol_key.partition("@v")[0]
        return [hp for hp, protocol in HP_PROTOCOLS.items() if protocol == name] or list(HP_PROTOCOLS)

    @property
    def full_train_epochs(self) -> int:
        return 200

    # -- which table answers --------------------------------------------------------------
    def _protocol(self, hp: object) -> str | None:
        """The protocol key answering ``hp`` (None: published numbers), or NotHeld."""
        hp = str(hp)
        _choice("hp", hp, tuple(HP_PROTOCOLS))
        if self.published:
            if hp != "200":
                raise NotHeld(f"hp={hp!r}: NB201's published 12-epoch numbers are not held here; pass hp='200' "
                              "for the published 200-epoch numbers, or RebenchAPI(url, source='arch-aware') for "
                              "re-trained 12-epoch runs (nb201-12)")
            return None
        if self.protocol_key is None:
            name = HP_PROTOCOLS[hp]
            return f"{name}@v{PROTOCOLS[name].version}"
        name = self.protocol_key.partition("@v")[0]
        if name in HP_PROTOCOLS.values() and HP_PROTOCOLS[hp] != name:
            raise NotHeld(f"hp={hp!r}: source {self.source!r} holds {PROTOCOLS[name].epochs}-epoch runs only; pass "
                          f"hp='{PROTOCOLS[name].epochs}', or source='{self.scaling}' to let hp pick the protocol")
        return self.protocol_key

    def _origin(self, protocol: str | None) -> str:
        return self.scaling if protocol is None else f"{self.scaling}@{protocol}/{self.precision}"

    def table(self, dataset: str, hp: object = "200") -> SourceTable:
        """The in-memory table answering ``dataset`` at ``hp`` (loaded on first use)."""
        _choice("dataset", dataset, NB201_DATASETS)
        return self._load(self._origin(self._protocol(hp)), dataset)

    def _load(self, origin: str, dataset: str, revalidate: bool = False) -> SourceTable:
        cached = self._tables.get((origin, dataset))
        if cached is not None and not revalidate:
            return cached
        headers = {"If-None-Match": cached.etag} if cached is not None and cached.etag else {}
        response = self.client.http.get(f"/v1/bulk/{dataset}", params={"source": origin}, headers=headers)
        if response.status_code == 304 and cached is not None:
            return cached
        if response.status_code == 404:
            raise RuntimeError(f"{self.client.url} has no GET /v1/bulk/{{dataset}}: this client needs an API of the "
                               "same version")
        if response.status_code >= 400:
            raise ApiError(response.status_code, response.json().get("detail", response.text))
        table = SourceTable(_loads(response.content), response.headers.get("etag"))
        self._tables[(origin, dataset)] = table
        return table

    def refresh(self) -> None:
        """Revalidate every loaded table (one conditional request each; 304 keeps it)."""
        for origin, dataset in list(self._tables):
            self._load(origin, dataset, revalidate=True)

    # -- get_more_info ----------------------------------------------------------------------
    def get_more_info(self, index: object, dataset: str, iepoch: int | None = None, hp: str | int = "12",
                      is_random: bool | int = True) -> NB201Info:
        """nas_201_api's dict for one cell: ``{train,valid,test,valtest}-{loss,accuracy,per-time,all-time}``.

        ``is_random``: True = one seed drawn with ``random.choice`` among the arch's seeds (as
        nats_bench), False = the mean over its seeds, an int = that seed."""
        arch_index = self._index(index)
        _choice("dataset", dataset, NB201_DATASETS)
        if not isinstance(is_random, int):  # bool is an int: True / False / a seed
            raise ValueError(f"is_random={is_random!r}: use False (mean over seeds), True (one random seed) or an "
                             "int seed")
        protocol = self._protocol(hp)
        table = self._load(self._origin(protocol), dataset)
        if iepoch is not None:
            if not isinstance(iepoch, int) or isinstance(iepoch, bool):
                raise ValueError(f"iepoch={iepoch!r}: use None (the last epoch) or an int epoch (0-based)")
            if table.epochs is not None and not 0 <= iepoch < table.epochs:
                raise ValueError(f"iepoch={iepoch!r}: use None (the last epoch) or an int in 0..{table.epochs - 1} "
                                 f"(0-based, as NB201) for a {table.epochs}-epoch protocol")
            if iepoch != (table.epochs or 0) - 1:
                return self._epoch_info(table, arch_index, dataset, iepoch, is_random)
        self._require(table, arch_index)
        seed = self._seed(table, arch_index, is_random)
        return self.answer(table, arch_index, seed)

    def _require(self, table: SourceTable, index: int) -> None:
        if table.has(index):
            return
        if table.kind == "original":
            raise NotHeld(f"no published {table.source} number for arch {index} on {table.dataset}: check the "
                          f"import (`rebench import-nb201`)")
        protocol = table.protocol["key"] if table.protocol else "?"
        raise NotHeld(f"no succeeded {self.scaling} run of arch {index} on {table.dataset} under protocol {protocol} "
                      f"({self.precision}): submit one with RebenchAPI.submit({index}, dataset={table.dataset!r}, "
                      f"scaling={self.scaling!r}, protocol={protocol.partition('@v')[0]!r})")

    def _seed(self, table: SourceTable, index: int, is_random: bool | int) -> int | None:
        if is_random is False:
            return None
        seeds = table.seeds_of(index)
        if not seeds:
            raise NotHeld(f"is_random={is_random!r}: {table.source} holds seed-means only for {table.dataset} (no "
                          "itemised seeds); pass is_random=False")
        if is_random is True:
            return random.choice(seeds)
        if is_random not in seeds:
            raise ValueError(f"is_random={is_random}: can not find this seed for arch {index} on {table.dataset}; "
                             f"its seeds are {', '.join(map(str, seeds))}")
        return int(is_random)

    # -- delegated ------------------------------------------------------------------------
    def submit(self, arch: object, *, dataset: str = "cifar10", scaling: str | None = None, hp: str | int = "200",
               protocol: str | None = None, seeds: Sequence[int] = (777, 888, 999),
               precision: str | None = None) -> dict:
        """Queue runs (needs an API key); defaults from this API's re-trained source."""
        _choice("hp", str(hp), tuple(HP_PROTOCOLS))
        target = arch.tostr() if not isinstance(arch, (int, str)) and hasattr(arch, "tostr") else arch
        default_scaling = "arch-aware" if self.published else self.scaling
        default_protocol = None if self.published or self.protocol_key is None else self.protocol_key.split("@v")[0]
        return self.client.submit(target, dataset=dataset, scaling=scaling or default_scaling,  # type: ignore[arg-type]
                                  protocol=protocol or default_protocol or HP_PROTOCOLS[str(hp)], seeds=seeds,
                                  precision=precision or self.precision or "fp32")

    def wait(self, runs: Mapping[str, Any] | Sequence[int], **options: Any) -> list[dict]:
        """Wait for run ids, or for every run of a ``submit`` answer."""
        ids = [r["id"] for r in runs["runs"]] if isinstance(runs, Mapping) else list(runs)
        return self.client.wait(ids, **options)

    def leaderboard(self, **params: Any) -> dict:
        return self.client.leaderboard(**params)

    def kendall(self, **params: Any) -> dict:
        return self.client.kendall(**params)


def _loads(raw: bytes) -> Any:
    try:
        import orjson

        return orjson.loads(raw)
    except ImportError:  # the client needs only httpx
        import json

        return json.loads(raw)

"""A ``nas_201_api``-compatible reader of this service (httpx and the pure-Python core; no torch).

    from service.nb201_client import RebenchAPI
    api = RebenchAPI("http://127.0.0.1:8000")
    i = api.query_index_by_arch("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")
    api.get_more_info(i, "cifar100", hp="200", is_random=False, scaling="arch-aware")["test-accuracy"]

Same names and semantics as ``NASBench201API`` (D-X-Y/NAS-Bench-201, ``api_utils.py``):

* ``query_index_by_arch(arch)``: an int in range is returned as is (else ValueError); a string
  is looked up *exactly* (NB201 compares strings, so a malformed string, or edges listed in
  another order, gives -1); an object with ``tostr()`` is looked up by that string; anything
  else gives -1.
* ``get_more_info(index, dataset, iepoch, hp, is_random)``: ``dataset`` one of ``cifar10-valid``,
  ``cifar10``, ``cifar100``, ``ImageNet16-120``; ``iepoch`` 0-based (None: the last epoch);
  ``is_random`` False = mean over the seeds, True = one seed drawn at random, an int = that
  seed. Keys ``train-``, ``valid-``, ``test-`` x ``loss``, ``accuracy`` (percent), ``per-time``,
  ``all-time``, as NB201 maps them: ``valid`` = x-valid (cifar10-valid's ``valid``), ``test`` =
  cifar10's ``test`` / x-test. Unlike NB201 the defaults are ``hp='200'`` and
  ``is_random=False`` (NB201's ``'12'`` and ``True`` are the usual pitfalls).

What differs, on purpose and documented in the answer itself:

* Extra keys: ``seeds`` (the seeds averaged or drawn; None when the source does not itemise
  them), ``protocol`` (the key, e.g. ``nb201-200@v1``, which the API also gives NB201's published
  numbers), ``split`` (prefix -> the setting's split it came from), ``scaling`` (``original`` for
  published numbers), ``precision`` and ``source`` (the API's name of the series: ``nb201``,
  ``nats-tss`` or e.g. ``arch-aware@nb201-200@v1/fp32``, usable in ``kendall(a=..., b=...)``).
* A split this service does not store for the setting has no keys, as in NB201 when a split
  is missing: cifar10-valid's ``ori-test`` (NB201's ``test-*`` there) and cifar100 /
  ImageNet16-120's ``ori-test`` (``valtest-*``) are never present. A quantity not stored for a
  present split is None: published numbers (``scaling='original'``) are final accuracies only
  (losses, train numbers and times None; ``iepoch`` only None or the last epoch); re-trained
  runs record no separate evaluation time (``valid-``/``test-*-time`` None) and their
  ``train-all-time`` is the wall time of train + evaluation per epoch.
* No result for the query raises :class:`NotBenchmarked` (a ``LookupError``) saying what to
  submit; a wrong argument raises ValueError naming the argument and its valid values.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from archscale.datasets import DATASETS
from archscale.protocols import SCALINGS, UnknownProtocol, get_protocol
from archscale.space import NUM_CELLS, ArchStringError, cell_at, format_arch, index_of, parse_arch

from .client import ApiError, RebenchClient

__all__ = ["RebenchAPI", "NotBenchmarked", "HP_PROTOCOLS", "NB201_DATASETS", "SCALING_CHOICES"]

#: nas_201_api's ``hp`` -> the protocol that reproduces that NB201 recipe here
HP_PROTOCOLS = {"200": "nb201-200", "12": "nb201-12"}
NB201_DATASETS = tuple(DATASETS)
SCALING_CHOICES = ("original", *SCALINGS)
#: NB201's key prefix -> which of the setting's evaluation splits it reads (ori-test is not stored)
_PREFIX_SPLITS = {"valid": ("valid", "x-valid"), "test": ("test", "x-test")}
_FIELDS = ("loss", "accuracy", "per-time", "all-time")


class NotBenchmarked(LookupError):
    """The service holds no number for this arch x dataset x scaling x protocol (yet)."""


def _choice(name: str, value: object, valid: Sequence[object]) -> None:
    if value not in valid:
        raise ValueError(f"{name}={value!r} is not supported; use one of {', '.join(map(repr, valid))}")


def _mean(values: list[float | None]) -> float | None:
    # NB201 averages with np.mean; a quantity missing for any seed is missing for the mean.
    return None if not values or any(v is None for v in values) else sum(values) / len(values)  # type: ignore[arg-type]


def _splits(dataset: str) -> dict[str, str]:
    """NB201 prefix -> this setting's split name, for the splits stored here."""
    reported = DATASETS[dataset].eval_splits
    return {prefix: split for prefix, names in _PREFIX_SPLITS.items() for split in names if split in reported}


class RebenchAPI:
    """``NASBench201API``'s read methods over HTTP, plus ``submit``/``wait``/``leaderboard``/``kendall``."""

    def __init__(self, url: str | None = None, api_key: str | None = None, timeout: float = 30.0, *,
                 precision: str = "fp32", client: RebenchClient | None = None):
        self.client = client or RebenchClient(url, api_key=api_key, timeout=timeout)
        self.precision = precision

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> RebenchAPI:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __len__(self) -> int:
        return NUM_CELLS

    # -- nas_201_api ----------------------------------------------------------------------
    def arch(self, index: int) -> str:
        """The canonical NB201 string of cell ``index`` (``NASBench201API.arch``)."""
        return format_arch(cell_at(index))

    def query_index_by_arch(self, arch: object) -> int:
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
        return index_of(cell) if format_arch(cell) == arch else -1  # NB201 matches the exact string

    def get_more_info(self, index: object, dataset: str, iepoch: int | None = None, hp: str | int = "200",
                      is_random: bool | int = False, scaling: str = "arch-aware", *, protocol: str | None = None,
                      precision: str | None = None, source: str = "nb201") -> dict[str, Any]:
        """NB201's answer for one cell; ``protocol`` overrides ``hp`` (e.g. ``'smoke'`` for demos)."""
        arch_index = self.query_index_by_arch(index)
        if arch_index == -1:
            raise ValueError(f"index={index!r} is not an NB201 cell: pass an index 0..{NUM_CELLS - 1}, the exact "
                             "canonical string (see RebenchAPI.arch(i)) or an object with tostr()")
        _choice("dataset", dataset, NB201_DATASETS)
        _choice("hp", str(hp), tuple(HP_PROTOCOLS))
        _choice("scaling", scaling, SCALING_CHOICES)
        if not isinstance(is_random, int):  # bool is an int: True / False / a seed
            raise ValueError(f"is_random={is_random!r}: use False (mean over seeds), True (one random seed) or "
                             "an int seed")
        if scaling == "original":
            if protocol is not None:
                raise ValueError("protocol= applies to re-trained results; published numbers are NB201's "
                                 "hp='200' recipe: drop protocol or pick scaling='arch-aware'/'standard'")
            return self._original(arch_index, dataset, iepoch, str(hp), is_random, source)
        name = protocol or HP_PROTOCOLS[str(hp)]
        try:
            epochs = get_protocol(name.partition("@v")[0]).epochs
        except UnknownProtocol:
            raise ValueError(f"protocol={name!r} is unknown; use one of {', '.join(HP_PROTOCOLS.values())} "
                             "or 'smoke'") from None
        return self._rescaled(arch_index, dataset, _check_iepoch(iepoch, epochs), is_random, scaling, name,
                              precision or self.precision)

    # -- the two sources ------------------------------------------------------------------
    def _original(self, index: int, dataset: str, iepoch: int | None, hp: str, is_random: bool | int,
                  source: str) -> dict[str, Any]:
        if hp != "200":
            raise ValueError(f"hp={hp!r}: only NB201's 200-epoch numbers are imported; use hp='200' or a "
                             "re-trained scaling with hp='12'")
        if iepoch not in (None, 199):
            raise ValueError(f"iepoch={iepoch!r}: published numbers are stored for the last epoch only; use "
                             "iepoch=None (or 199), or a re-trained scaling for curves")
        page = self.client.arch(index, dataset=dataset)
        numbers = {n["split"]: n for n in page["datasets"][dataset]["original"]
                   if n["source"] == source and n["metric"] == "acc"}
        splits = {prefix: split for prefix, split in _splits(dataset).items() if split in numbers}
        if not splits:
            raise NotBenchmarked(f"no published {source} number for arch {index} on {dataset}: check the "
                                 f"import (`rebench import-nb201`) and the source name ({source!r})")
        itemised = sorted({int(s) for n in numbers.values() for s in n["per_seed"]})
        seeds: list[int] | None = itemised or None
        if is_random is not False:
            if not itemised:
                raise ValueError(f"is_random={is_random!r}: {source} numbers here are seed-means whose seeds the "
                                 "import does not itemise; use is_random=False (or import the .pth for per-seed)")
            seed = random.choice(itemised) if is_random is True else is_random
            _choice("is_random (seed)", seed, itemised)
            seeds = [seed]
        info: dict[str, Any] = {f"train-{f}": None for f in _FIELDS}
        for prefix, split in splits.items():
            number = numbers[split]
            chosen = str(seeds[0]) if seeds else ""
            value = number["value"] if is_random is False else number["per_seed"].get(chosen)
            info.update({f"{prefix}-loss": None, f"{prefix}-accuracy": value, f"{prefix}-per-time": None,
                         f"{prefix}-all-time": None})
        protocol = (page["sources"].get(source) or {}).get("protocol") or {}
        return {**info, "seeds": seeds, "protocol": protocol.get("key"), "split": splits, "scaling": "original",
                "precision": None, "source": source}

    def _rescaled(self, index: int, dataset: str, iepoch: int | None, is_random: bool | int, scaling: str,
                  protocol: str, precision: str) -> dict[str, Any]:
        try:
            listing = self.client.arch_runs(index, dataset=dataset, scaling=scaling, protocol=protocol,
                                            precision=precision, status="succeeded")
        except ApiError as exc:
            if exc.status == 404:  # the index was checked here: only the route itself can be missing
                raise RuntimeError(f"{self.client.url} has no GET /v1/archs/{{arch}}/runs: re-trained numbers need "
                                   "an API of this version (published ones work with scaling='original')") from exc
            raise
        by_seed = {run["seed"]: run["id"] for run in listing["runs"]}
        if not by_seed:
            raise NotBenchmarked(f"no succeeded {scaling} run of arch {index} on {dataset} under protocol "
                                 f"{protocol} ({precision}): submit one with RebenchAPI.submit({index}, "
                                 f"dataset={dataset!r}, scaling={scaling!r}, protocol={protocol!r})")
        seeds = sorted(by_seed)
        if is_random is True:
            seeds = [random.choice(seeds)]
        elif is_random is not False:
            _choice("is_random (seed)", is_random, seeds)
            seeds = [is_random]
        runs = [self.client.run(by_seed[seed]) for seed in seeds]
        splits = _splits(dataset)
        per_run = [_run_numbers(run, iepoch, splits) for run in runs]
        info = {key: _mean([numbers[key] for numbers in per_run]) for key in per_run[0]}
        key = runs[0]["protocol"]["key"]
        return {**info, "seeds": seeds, "protocol": key, "split": splits, "scaling": scaling, "precision": precision,
                "source": f"{scaling}@{key}/{precision}"}  # the API's name for this series

    # -- delegated ------------------------------------------------------------------------
    def submit(self, arch: object, *, dataset: str = "cifar10", scaling: str = "arch-aware", hp: str | int = "200",
               protocol: str | None = None, seeds: Sequence[int] = (777, 888, 999),
               precision: str | None = None) -> dict:
        """Queue runs (needs an API key); ``arch`` as index, string or object with ``tostr()``."""
        _choice("hp", str(hp), tuple(HP_PROTOCOLS))
        target = arch.tostr() if not isinstance(arch, (int, str)) and hasattr(arch, "tostr") else arch
        return self.client.submit(target, dataset=dataset, scaling=scaling,  # type: ignore[arg-type]
                                  protocol=protocol or HP_PROTOCOLS[str(hp)], seeds=seeds,
                                  precision=precision or self.precision)

    def wait(self, runs: Mapping[str, Any] | Sequence[int], **options: Any) -> list[dict]:
        """Wait for run ids, or for every run of a ``submit`` answer."""
        ids = [r["id"] for r in runs["runs"]] if isinstance(runs, Mapping) else list(runs)
        return self.client.wait(ids, **options)

    def leaderboard(self, **params: Any) -> dict:
        return self.client.leaderboard(**params)

    def kendall(self, **params: Any) -> dict:
        return self.client.kendall(**params)


def _check_iepoch(iepoch: int | None, epochs: int) -> int | None:
    if iepoch is None:
        return None
    if isinstance(iepoch, bool) or not isinstance(iepoch, int) or not 0 <= iepoch < epochs:
        raise ValueError(f"iepoch={iepoch!r}: use None (the last epoch) or an int in 0..{epochs - 1} "
                         f"(0-based, as NB201) for a {epochs}-epoch protocol")
    return iepoch


def _run_numbers(run: dict[str, Any], iepoch: int | None, splits: dict[str, str]) -> dict[str, float | None]:
    """One run's NB201 numbers after epoch ``iepoch`` (0-based; None: the final result)."""
    total = run["progress"]["total"]
    epoch = total if iepoch is None else iepoch + 1  # our curve is 1-based
    curve = {row["epoch"]: row for row in run["curve"]}
    if epoch not in curve:
        raise NotBenchmarked(f"run {run['id']} has no curve row for epoch {epoch} (iepoch={iepoch})")
    seconds = [curve.get(e, {}).get("seconds") for e in range(1, epoch + 1)]
    all_time = _sum(seconds)
    row = curve[epoch]
    train, evals = {"loss": row["train_loss"], "acc": row["train_acc"]}, row["evals"]
    if iepoch is None and run["result"] is not None:
        evals = run["result"]["metrics"]  # the stored final result: what the leaderboards use
        train = evals.get("train") or train
    out: dict[str, float | None] = {"train-loss": train.get("loss"), "train-accuracy": train.get("acc"),
                                    "train-per-time": None if all_time is None else all_time / epoch,
                                    "train-all-time": all_time}
    for prefix, split in splits.items():
        numbers = evals.get(split, {})
        out.update({f"{prefix}-loss": numbers.get("loss"), f"{prefix}-accuracy": numbers.get("acc"),
                    f"{prefix}-per-time": None, f"{prefix}-all-time": None})
    return out


def _sum(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else float(sum(values))  # type: ignore[arg-type]

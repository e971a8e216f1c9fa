"""How :class:`service.nb201_client.RebenchAPI` builds nas_201_api's answers from its tables.

Key names and shapes are nas_201_api's (``api_utils.py`` of NATS-Bench): ``get_more_info``
gives ``train-*``, ``valid-*`` (x-valid; cifar10-valid's held-out half), ``test-*`` (cifar10's
ori-test, x-test elsewhere; cifar10-valid's ori-test) and ``valtest-*`` (ori-test of cifar100
and ImageNet16-120) x ``loss``, ``accuracy``, ``per-time``, ``all-time``. What is not held is
listed in the answer's ``not_held`` with the reason and raises :class:`NotHeld` when read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .nb201_results import InfoStrings
from .nb201_tables import NB201Info, NotHeld, SourceTable

if TYPE_CHECKING:
    from .nb201_client import RebenchAPI

__all__ = ["AnswerMixin", "nb201_prefixes", "FIELDS"]

FIELDS = ("loss", "accuracy", "per-time", "all-time")
_SEEDED = ("cifar10-valid", "cifar100", "ImageNet16-120")  # where NB201's costs and seeds are held


def nb201_prefixes(dataset: str) -> tuple[str, ...]:
    """The prefixes nas_201_api's ``get_more_info`` answers for ``dataset``."""
    if dataset == "cifar10-valid":
        return ("train", "valid", "test")
    if dataset == "cifar10":
        return ("train", "test")
    return ("train", "valid", "test", "valtest")


def _why(table: SourceTable, prefix: str, field: str, seed: int | None) -> str:
    """Why a key is not held, and what to pass instead."""
    published = table.kind == "original"
    if prefix == "valtest" or (prefix == "test" and table.dataset == "cifar10-valid"):
        return (f"{table.dataset}'s ori-test split is not held (only the splits the service stores per setting); "
                + ("for test accuracy use dataset='cifar10' (trained on train+valid)" if prefix == "test" else
                   "use 'test-*' (x-test) or 'valid-*' (x-valid)"))
    if prefix != "train" and field in ("per-time", "all-time"):
        return ("evaluation times are not held: " + ("NB201's recorded eval times were not imported" if published else
                "re-trained runs record one wall time per epoch, train and evaluation together, as train-all-time")
                + "; use info['train-all-time'] (simulate_train_eval counts that)")
    if published and field in ("loss",) or published and prefix == "train" and field == "accuracy":
        return ("NB201's published numbers here are final accuracies and recorded train times; losses and train "
                "accuracy are not held: use a re-trained source, RebenchAPI(url, source='arch-aware@nb201-200')")
    if published and field in ("per-time", "all-time"):
        return (f"NB201's recorded training time is held for {', '.join(_SEEDED)}, not {table.dataset}: import "
                "nb201_tss_hp200_cost.csv.gz, or ask cifar10-valid (same network, half the images)")
    if published and seed is not None:
        return (f"per-seed {prefix} accuracy is not held ({table.source} itemises seeds on the valid split only); "
                "pass is_random=False for the seed-mean")
    where = "the seed-mean" if seed is None else f"seed {seed}"
    return f"{table.source} holds no {prefix}-{field} for {where} of this arch on {table.dataset}"


class AnswerMixin(InfoStrings):
    """The read calls of nas_201_api built on ``self._load``/``self.table`` (see RebenchAPI)."""

    def answer(self: RebenchAPI, table: SourceTable, index: int, seed: int | None) -> NB201Info:
        items: dict[str, Any] = {}
        not_held: dict[str, str] = {}
        epochs = table.epochs or 200
        total = table.get("train-all-time", index, seed) if table.kind != "original" else \
            table.cost("train-all-time", index)
        for prefix in nb201_prefixes(table.dataset):
            for field in FIELDS:
                key = f"{prefix}-{field}"
                if prefix == "train" and field in ("per-time", "all-time"):
                    value = None if total is None else (total if field == "all-time" else total / epochs)
                elif field in ("per-time", "all-time"):
                    value = None
                else:
                    value = table.get(key, index, seed)
                if value is None:
                    not_held[key] = _why(table, prefix, field, seed)
                else:
                    items[key] = value
        provenance = {"source": table.source, "protocol": (table.protocol or {}).get("key"), "split": table.splits,
                      "seeds": [seed] if seed is not None else table.seeds_of(index)}
        return NB201Info(items, not_held, provenance)

    def _epoch_info(self: RebenchAPI, table: SourceTable, index: int, dataset: str, iepoch: int,
                    is_random: bool | int) -> NB201Info:
        """An epoch other than the last: re-trained curves, read per run (not in the bulk table)."""
        if table.kind == "original":
            raise NotHeld(f"iepoch={iepoch}: published numbers are held for the last epoch only; pass iepoch=None "
                          "(or 199), or use a re-trained source for curves")
        self._require(table, index)
        seeds = table.seeds_of(index)
        chosen = [self._seed(table, index, is_random)] if is_random is not False else seeds
        listing = self.client.arch_runs(index, dataset=dataset, scaling=self.scaling, protocol=table.protocol["key"],
                                        precision=self.precision, status="succeeded")
        by_seed = {run["seed"]: run["id"] for run in listing["runs"]}
        curves = [{row["epoch"]: row for row in self.client.run(by_seed[s])["curve"]} for s in chosen]
        items: dict[str, Any] = {}
        not_held: dict[str, str] = {}
        epoch = iepoch + 1  # our curves are 1-based
        for prefix in nb201_prefixes(dataset):
            split = "train" if prefix == "train" else table.splits.get(prefix)
            for field in FIELDS:
                key = f"{prefix}-{field}"
                values = [_curve_value(curve, epoch, split, field) for curve in curves]
                if split is None or any(v is None for v in values):
                    not_held[key] = _why(table, prefix, field, chosen[0] if is_random is not False else None)
                else:
                    items[key] = sum(values) / len(values)
        return NB201Info(items, not_held, {"source": table.source, "protocol": table.protocol["key"],
                                           "split": table.splits, "seeds": chosen, "iepoch": iepoch})

    # -- costs ----------------------------------------------------------------------------
    def get_cost_info(self: RebenchAPI, index: int, dataset: str, hp: str | int = "12") -> NB201Info:
        """``flops`` (M, computed from the cell), ``params`` (MB as NB201 recorded), ``latency`` (s, NB201's),
        ``T-train@epoch`` / ``T-train@total`` (the source's), ``T-<eval>@epoch/@total`` (not held)."""
        index = self._index(index)
        table = self.table(dataset, hp)
        published = self._load("nb201", dataset)  # params and latency are the network's, under any recipe
        items: dict[str, Any] = {}
        not_held: dict[str, str] = {}
        for key, value in (("flops", published.cost("flops", index)), ("params", published.cost("params", index)),
                           ("latency", published.cost("latency", index))):
            if value is None:
                not_held[key] = (f"NB201's recorded {key} is held for cifar10-valid, cifar100 and ImageNet16-120; "
                                 "for cifar10 ask cifar10-valid (the same network)")
            else:
                items[key] = value
        total = table.cost("train-all-time", index) if table.kind == "original" else \
            table.get("train-all-time", index, None)
        if total is None:
            not_held["T-train@total"] = not_held["T-train@epoch"] = _why(table, "train", "all-time", None)
        else:
            items.update({"T-train@epoch": total / (table.epochs or 200), "T-train@total": total})
        for name in ("x-valid", "x-test", "ori-test") if dataset != "cifar10" else ("ori-test",):
            for unit in ("epoch", "total"):
                not_held[f"T-{name}@{unit}"] = _why(table, "valid", "per-time", None)
        return NB201Info(items, not_held, {"source": table.source, "costs_from": "nb201"})

    def get_latency(self: RebenchAPI, index: int, dataset: str, hp: str | int = "12") -> float:
        return self.get_cost_info(index, dataset, hp)["latency"]

    def simulate_train_eval(self: RebenchAPI, arch: object, dataset: str, iepoch: int | None = None,
                            hp: str | int = "12", account_time: bool = True) -> tuple[float, float, float, float]:
        """nats_bench's: (valid accuracy of one random seed, latency, time cost, total time used).

        cifar10 reads cifar10-valid, as nats_bench does; the latency is cifar10-valid's there (the
        same network: NB201's cifar10 latency is not held). Time cost = ``train-all-time`` plus the
        evaluation time where held (it never is here: see docs/api.md)."""
        index = self._index(arch)
        names = ("cifar10", "cifar100", "ImageNet16-120")
        if dataset not in names:
            raise ValueError(f"Invalid dataset name : {dataset} vs {names}")
        setting = "cifar10-valid" if dataset == "cifar10" else dataset
        info = self.get_more_info(index, setting, iepoch=iepoch, hp=hp, is_random=True)
        time_cost = info["train-all-time"] + (info["valid-per-time"] if "valid-per-time" in info else 0.0)
        latency = self.get_latency(index, setting, hp=hp)
        if account_time:
            self._used_time += time_cost
        return info["valid-accuracy"], latency, time_cost, self._used_time

    # -- whole-space queries ----------------------------------------------------------------
    def find_best(self: RebenchAPI, dataset: str, metric_on_set: str, flop_max: float | None = None,
                  param_max: float | None = None, hp: str | int = "12",
                  enforce_all: bool | None = None) -> tuple[int, float | None]:
        """The arch with the highest seed-mean accuracy on ``metric_on_set`` among those held
        (first index on ties, as nats_bench); flops in M, params in MB."""
        dataset, setname = _remap(dataset, metric_on_set)
        prefix = _prefix_of(dataset, setname)
        table = self.table(dataset, hp)
        costs = self._load("nb201", dataset)
        column = table.mean.get(f"{prefix}-accuracy")
        if column is None:
            raise NotHeld(f"metric_on_set={metric_on_set!r}: {table.source} holds no {prefix} accuracy on {dataset}")
        best_index, best = -1, None
        for arch, value in zip(table.index, column):
            if value is None:
                continue
            if flop_max is not None and _cost(costs, "flops", arch) > flop_max:
                continue
            if param_max is not None and _cost(costs, "params", arch) > param_max:
                continue
            if best is None or best < value:
                best_index, best = arch, value
        return best_index, best

    def statistics(self: RebenchAPI, dataset: str, hp: str | int) -> dict[int, int]:
        """How many archs have how many seeds (nats_bench's ``statistics``)."""
        table = self.table(dataset, hp)
        if table.kind == "original" and not table.per_seed:
            raise NotHeld(f"{table.source} holds no itemised seeds on {dataset}: seed counts are unknown here")
        counts: dict[int, int] = {}
        for arch in table.index:
            n = len(table.seeds_of(arch))
            counts[n] = counts.get(n, 0) + 1
        return counts


def _cost(table: SourceTable, key: str, index: int) -> float:
    value = table.cost(key, index)
    if value is None:
        raise NotHeld(f"{key} of arch {index} is not held on {table.dataset} (NB201 recorded it for cifar10-valid, "
                      f"cifar100 and ImageNet16-120); drop the {key} limit or ask cifar10-valid")
    return value


def _remap(dataset: str, metric_on_set: str) -> tuple[str, str]:
    """nats_bench's ``remap_dataset_set_names``."""
    if dataset == "cifar10" and metric_on_set == "valid":
        return "cifar10-valid", "x-valid"
    if dataset == "cifar10" and metric_on_set == "test":
        return "cifar10", "ori-test"
    if dataset in ("cifar100", "ImageNet16-120") and metric_on_set in ("valid", "test"):
        return dataset, "x-" + metric_on_set
    return dataset, metric_on_set


def _prefix_of(dataset: str, setname: str) -> str:
    """NB201's set name -> the get_more_info prefix holding it for ``dataset``."""
    if setname == "train":
        return "train"
    if setname in ("x-valid", "valid") and dataset != "cifar10":
        return "valid"
    if setname == "ori-test":
        return "test" if dataset in ("cifar10", "cifar10-valid") else "valtest"
    if setname in ("x-test", "test") and dataset in ("cifar100", "ImageNet16-120"):
        return "test"
    raise ValueError(f"setname={setname!r} is not a set of {dataset}; use train, x-valid, x-test or ori-test")


def _curve_value(curve: dict[int, dict], epoch: int, split: str | None, field: str) -> float | None:
    row = curve.get(epoch)
    if row is None or split is None:
        return None
    if split == "train":
        if field in ("per-time", "all-time"):
            seconds = [curve.get(e, {}).get("seconds") for e in range(1, epoch + 1)]
            if any(s is None for s in seconds):
                return None
            return sum(seconds) / (epoch if field == "per-time" else 1)
        return row.get({"loss": "train_loss", "accuracy": "train_acc"}[field])
    if field in ("per-time", "all-time"):
        return None
    return row["evals"].get(split, {}).get({"loss": "loss", "accuracy": "acc"}[field])

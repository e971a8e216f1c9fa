"""An in-memory stand-in for nas_201_api that reads the CSV files directly (no service code).

Only what the search loops in ``nas_search`` call: ``query_index_by_arch``, ``get_more_info``
(``valid-accuracy``, ``train-all-time``), ``get_latency``, ``simulate_train_eval``,
``reset_time``, ``used_time``. Seeds are drawn as nats_bench draws them: ``random.choice`` over
the arch's seeds in ascending order. ``Reference.published`` reads ``shared/data``;
``Reference(numbers, latency)`` serves any table of per-seed numbers (the re-trained runs a
test wrote).
"""

from __future__ import annotations

import csv
import gzip
import random
from pathlib import Path
from typing import Any

__all__ = ["Reference"]


def _rows(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rt", newline="") as handle:
        return list(csv.DictReader(handle))


class Reference:
    def __init__(self, numbers: dict[tuple[int, str], dict[int, tuple[float, float]]],
                 latency: dict[tuple[int, str], float], index_of: dict[str, int]):
        """``numbers[(arch, dataset)][seed] = (valid accuracy, train-all-time)``."""
        self.numbers, self.latency, self.index_of = numbers, latency, index_of
        self._used = 0.0

    @classmethod
    def published(cls, data: Path) -> Reference:
        index_of = {r["arch_str"]: int(r["arch_index"]) for r in _rows(data / "nb201_original.csv.gz")
                    if r["dataset"] == "cifar10"}
        costs = {(int(r["arch_index"]), r["dataset"]): r for r in _rows(data / "nb201_tss_hp200_cost.csv.gz")}
        numbers: dict[tuple[int, str], dict[int, tuple[float, float]]] = {}
        for r in _rows(data / "nb201_tss_hp200_perseed_valid.csv.gz"):
            key = (int(r["arch_index"]), r["dataset"])
            numbers.setdefault(key, {})[int(r["seed"])] = (float(r["valid_acc"]),
                                                           float(costs[key]["train_all_time"]))
        return cls(numbers, {k: float(r["latency"]) for k, r in costs.items()}, index_of)

    def query_index_by_arch(self, arch: Any) -> int:
        text = arch.tostr() if hasattr(arch, "tostr") else arch
        return arch if isinstance(arch, int) else self.index_of.get(text, -1)

    def reset_time(self) -> None:
        self._used = 0.0

    @property
    def used_time(self) -> float:
        return self._used

    def get_more_info(self, index: int, dataset: str, iepoch: Any = None, hp: str = "12",
                      is_random: Any = True) -> dict[str, float]:
        assert iepoch is None and is_random is True, "the reference answers the search loops' calls only"
        by_seed = self.numbers[(index, dataset)]
        accuracy, seconds = by_seed[random.choice(sorted(by_seed))]
        return {"valid-accuracy": accuracy, "train-all-time": seconds}

    def get_latency(self, index: int, dataset: str, hp: str = "12") -> float:
        return self.latency[(index, dataset)]

    def simulate_train_eval(self, arch: Any, dataset: str, iepoch: Any = None, hp: str = "12",
                            account_time: bool = True) -> tuple[float, float, float, float]:
        index = self.query_index_by_arch(arch)
        setting = "cifar10-valid" if dataset == "cifar10" else dataset
        info = self.get_more_info(index, setting, iepoch=iepoch, hp=hp, is_random=True)
        cost = info["train-all-time"]  # evaluation times are not in the files
        if account_time:
            self._used += cost
        return info["valid-accuracy"], self.get_latency(index, setting), cost, self._used


"""nas_201_api's per-arch objects over RebenchAPI: ``ArchResults`` and per-seed results, info strings.

``query_meta_info_by_index(i, hp)`` -> :class:`ArchResults` (``get_metrics``,
``get_compute_costs``, ``get_dataset_names``, ``get_dataset_seeds``);
``query_by_index(i, dataname, hp)`` -> that, or ``{seed: SeedResults}`` (``get_train``,
``get_eval``); ``query_info_str_by_arch`` / ``query_by_arch`` -> a text summary; ``show``
prints it. Every number comes from the same tables as ``get_more_info``.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from archscale.datasets import DATASETS

from .nb201_tables import NB201Info, NotHeld

if TYPE_CHECKING:
    from .nb201_client import RebenchAPI

__all__ = ["ArchResults", "SeedResults", "InfoStrings"]


class ArchResults:
    """One arch at one ``hp`` (nas_201_api's ``ArchResults``), answered by ``api``."""

    def __init__(self, api: RebenchAPI, index: int, hp: str):
        self.api, self.arch_index, self.hp = api, index, hp
        self.arch_str = api.arch(index)

    def __repr__(self) -> str:
        return f"ArchResults(arch-index={self.arch_index}, arch={self.arch_str}, hp={self.hp}, source={self.api.source})"

    def get_dataset_names(self) -> list[str]:
        return [d for d in DATASETS if self.api.table(d, self.hp).has(self.arch_index)]

    def get_dataset_seeds(self, dataset: str) -> list[int]:
        table = self.api.table(dataset, self.hp)
        seeds = table.seeds_of(self.arch_index)
        if not seeds:
            raise NotHeld(f"{table.source} holds no itemised seeds of arch {self.arch_index} on {dataset}")
        return seeds

    def get_compute_costs(self, dataset: str) -> NB201Info:
        return self.api.get_cost_info(self.arch_index, dataset, self.hp)

    def get_metrics(self, dataset: str, setname: str, iepoch: int | None = None,
                    is_random: bool | int = False) -> NB201Info:
        """``{'iepoch', 'loss', 'accuracy', 'cur_time', 'all_time'}`` on ``setname`` (train, x-valid,
        x-test, ori-test); ``is_random=True`` picks a seed with ``random.randint`` as nas_201_api."""
        from .nb201_answers import _prefix_of

        prefix = _prefix_of(dataset, setname)
        if is_random is True:
            seeds = self.get_dataset_seeds(dataset)
            is_random = seeds[random.randint(0, len(seeds) - 1)]
        info = self.api.get_more_info(self.arch_index, dataset, iepoch=iepoch, hp=self.hp, is_random=is_random)
        epochs = self.api.table(dataset, self.hp).epochs or 200
        items: dict[str, Any] = {"iepoch": epochs - 1 if iepoch is None else iepoch}
        not_held: dict[str, str] = {"cur_time": "the time of one epoch is not held: use all_time / (iepoch + 1)"}
        for out, field in (("loss", "loss"), ("accuracy", "accuracy"), ("all_time", "all-time")):
            key = f"{prefix}-{field}"
            if key in info:
                items[out] = info[key]
            else:
                not_held[out] = info.not_held.get(key, f"{key} is not answered for {dataset}")
        return NB201Info(items, not_held, info.provenance)

    def query(self, dataset: str) -> dict[int, SeedResults]:
        return {seed: SeedResults(self, dataset, seed) for seed in self.get_dataset_seeds(dataset)}


class SeedResults:
    """One seed's run (nas_201_api's ``ResultsCount``): ``get_train`` and ``get_eval``."""

    def __init__(self, arch: ArchResults, dataset: str, seed: int):
        self.arch, self.name, self.seed = arch, dataset, seed

    def __repr__(self) -> str:
        return f"SeedResults({self.name}, arch={self.arch.arch_str}, seed={self.seed})"

    def get_train(self, iepoch: int | None = None) -> NB201Info:
        return self.arch.get_metrics(self.name, "train", iepoch, self.seed)

    def get_eval(self, name: str, iepoch: int | None = None) -> NB201Info:
        return self.arch.get_metrics(self.name, name, iepoch, self.seed)


class InfoStrings:
    """The per-arch object calls of nas_201_api (mixed into RebenchAPI)."""

    def query_meta_info_by_index(self: RebenchAPI, arch_index: int, hp: str | int = "12") -> ArchResults:
        index = self._index(arch_index)
        self._protocol(hp)  # NotHeld now (e.g. hp='12' on published numbers), not at the first read
        return ArchResults(self, index, str(hp))

    def query_by_index(self: RebenchAPI, arch_index: int, dataname: str | None = None,
                       hp: str | int = "12") -> ArchResults | dict[int, SeedResults]:
        results = self.query_meta_info_by_index(arch_index, hp)
        if dataname is None:
            return results
        if dataname not in DATASETS:
            raise ValueError(f"invalid dataset-name : {dataname} vs. {list(DATASETS)}")
        return results.query(dataname)

    def query_info_str_by_arch(self: RebenchAPI, arch: object, hp: str | int = "12") -> str | None:
        index = self.query_index_by_arch(arch)
        if index == -1:
            return None
        lines = [f"arch-index={index}, arch={self.arch(index)}, source={self.source}, hp={hp}"]
        for dataset in DATASETS:
            table = self.table(dataset, hp)
            if not table.has(index):
                lines.append(f"{dataset:<15} not held")
                continue
            info = self.answer(table, index, None)
            parts = [f"{prefix}={info[prefix + '-accuracy']:.2f}%" for prefix in ("train", "valid", "test")
                     if prefix + "-accuracy" in info]
            if "train-all-time" in info:
                parts.append(f"train-all-time={info['train-all-time']:.1f}s")
            seeds = table.seeds_of(index)
            lines.append(f"{dataset:<15} {' '.join(parts)} seeds={seeds or 'not itemised'}")
        return "\n".join(lines)

    def query_by_arch(self: RebenchAPI, arch: object, hp: str | int) -> str | None:
        return self.query_info_str_by_arch(arch, hp)

    def show(self: RebenchAPI, index: int = -1) -> None:
        if index < 0:
            print(self)
            return
        print(self.query_info_str_by_arch(index, "200" if "200" in self.avaliable_hps else self.avaliable_hps[0]))

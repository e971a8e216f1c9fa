"""Three NAS algorithms written as NAS code is written against nas_201_api / nats_bench (our code).

The call shapes are those of the NB201 authors' search scripts (AutoDL-Projects
``exps/NATS-algos/regularized_ea.py``, ``random_wo_share.py``, ``reinforce.py`` and
``exps/NAS-Bench-201-algos/RANDOM.py``): ``api.reset_time()``, ``api.simulate_train_eval(arch,
dataset, hp=...)``, ``api.get_more_info(index, dataset, iepoch=None, hp=..., is_random=True)``,
``api.query_index_by_arch(arch)``, ``api.used_time``, the ``random`` module for every draw. Each
returns its trajectory: one (index, accuracy, total time) per evaluation, so two runs with the
same RNG seed can be compared step by step. Pure Python: no torch.
"""

from __future__ import annotations

import math
import random
from collections import deque
from typing import Any

__all__ = ["Genotype", "regularized_evolution", "random_search", "reinforce", "EDGES"]

EDGES = 6  # NB201's cell: 1 edge into node 1, 2 into node 2, 3 into node 3


class Genotype:
    """An NB201 cell as ops on its six edges; ``tostr()`` like xautodl's CellStructure."""

    def __init__(self, ops: tuple[str, ...]):
        self.ops = tuple(ops)

    def tostr(self) -> str:
        o = self.ops
        return f"|{o[0]}~0|+|{o[1]}~0|{o[2]}~1|+|{o[3]}~0|{o[4]}~1|{o[5]}~2|"


def _choices(op_names: tuple, edge: int) -> tuple[str, ...]:
    """``op_names``: the ops of every edge (as the authors' scripts), or one tuple of ops per edge
    (a smaller space: an edge with one op is fixed)."""
    return op_names if isinstance(op_names[0], str) else op_names[edge]


def _random_genotype(op_names: tuple) -> Genotype:
    return Genotype(tuple(random.choice(_choices(op_names, edge)) for edge in range(EDGES)))


def _mutate(parent: Genotype, op_names: tuple) -> Genotype:
    ops = list(parent.ops)
    free = [edge for edge in range(EDGES) if len(_choices(op_names, edge)) > 1]
    edge = free[random.randint(0, len(free) - 1)]
    ops[edge] = random.choice([op for op in _choices(op_names, edge) if op != ops[edge]])
    return Genotype(tuple(ops))


def regularized_evolution(api: Any, dataset: str, op_names: tuple[str, ...], hp: str, cycles: int,
                          population_size: int, sample_size: int) -> list[tuple[int, float, float]]:
    """Aging evolution (Real et al. 2019) as in regularized_ea.py: simulate_train_eval per child."""
    api.reset_time()
    population: deque[tuple[Genotype, float]] = deque()
    trace: list[tuple[int, float, float]] = []
    while len(population) < population_size:
        arch = _random_genotype(op_names)
        accuracy, _, _, total = api.simulate_train_eval(arch, dataset, hp=hp)
        population.append((arch, accuracy))
        trace.append((api.query_index_by_arch(arch), accuracy, total))
    while len(trace) < cycles:
        sample = [random.choice(list(population)) for _ in range(sample_size)]
        parent = max(sample, key=lambda member: member[1])
        child = _mutate(parent[0], op_names)
        accuracy, _, _, total = api.simulate_train_eval(child, dataset, hp=hp)
        population.append((child, accuracy))
        population.popleft()
        trace.append((api.query_index_by_arch(child), accuracy, total))
    return trace


def random_search(api: Any, dataset: str, op_names: tuple[str, ...], hp: str,
                  time_budget: float) -> list[tuple[int, float, float]]:
    """RANDOM.py's loop: random cells until the budget, each read with get_more_info(is_random=True)."""
    trace: list[tuple[int, float, float]] = []
    total = 0.0
    while total < time_budget:
        arch = _random_genotype(op_names)
        index = api.query_index_by_arch(arch.tostr())
        info = api.get_more_info(index, dataset, iepoch=None, hp=hp, is_random=True)
        total += info["train-all-time"]
        trace.append((index, info["valid-accuracy"], total))
    return trace


def reinforce(api: Any, dataset: str, op_names: tuple[str, ...], hp: str, time_budget: float,
              learning_rate: float = 0.01, momentum: float = 0.9) -> list[tuple[int, float, float]]:
    """REINFORCE (Williams 1992) as in reinforce.py: a softmax policy per edge, an EMA baseline."""
    api.reset_time()
    logits = [[0.0] * len(_choices(op_names, edge)) for edge in range(EDGES)]
    baseline: float | None = None
    trace: list[tuple[int, float, float]] = []
    while not trace or trace[-1][2] < time_budget:
        probs = [_softmax(row) for row in logits]
        choice = [_sample(p) for p in probs]
        arch = Genotype(tuple(_choices(op_names, edge)[c] for edge, c in enumerate(choice)))
        reward, _, _, total = api.simulate_train_eval(arch, dataset, hp=hp)
        baseline = reward if baseline is None else momentum * baseline + (1 - momentum) * reward
        advantage = reward - baseline
        for edge, c in enumerate(choice):  # d log p(c) / d logit_j = 1[j = c] - p_j
            for j in range(len(logits[edge])):
                logits[edge][j] += learning_rate * advantage * ((1.0 if j == c else 0.0) - probs[edge][j])
        trace.append((api.query_index_by_arch(arch), reward, total))
    return trace


def _softmax(row: list[float]) -> list[float]:
    top = max(row)
    weights = [math.exp(x - top) for x in row]
    total = sum(weights)
    return [w / total for w in weights]


def _sample(probs: list[float]) -> int:
    u, acc = random.random(), 0.0
    for i, p in enumerate(probs):
        acc += p
        if u < acc:
            return i
    return len(probs) - 1

"""NB201 networks as replicas: G copies of one initialised network trained side by side.

The learning-rate grid search (:mod:`.max_lr`) trains one replica per learning rate from
the same initial weights. For the DAG MLPs/CNNs of the paper we wrote the replica axis
into the layers (:mod:`.dagnet`); for NB201 we keep the training package's own network
(:func:`archscale.training.network.build_network`) and its own init, obtained from the
scalings registry by name (``prepare("arch-aware", ...)``: whatever recipe ``arch-aware``
means in this checkout), and map it over the replica axis with ``torch.func.vmap``.

BatchNorm: in training mode NB201's BN normalises with the batch's statistics; its running
averages only matter for evaluation, which a 1-epoch training-loss search never does. The
replicated copy therefore normalises with batch statistics and keeps no running buffers
(the loss is exactly that of a network in ``train()`` mode).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from archscale.protocols import get_protocol
from archscale.space import Cell, resolve_arch

from .dagnet import Params

__all__ = ["ReplicatedNB201", "arch_aware_network"]


def arch_aware_network(cell: Cell, C: int, N: int, num_classes: int = 10, scaling: str = "arch-aware"
                       ) -> tuple[nn.Module, dict[str, Any]]:
    """The network and the init record that ``scaling`` gives ``cell`` (global torch RNG)."""
    from archscale.training.scalings import prepare

    protocol = replace(get_protocol("nb201-200"), C=C, N=N)
    prepared = prepare(scaling, cell, num_classes, protocol, base_lr=1.0)
    return prepared.model, prepared.init


def _batch_stat_copy(model: nn.Module) -> nn.Module:
    """A deep copy whose BatchNorms use batch statistics only (no running buffers)."""
    clone = copy.deepcopy(model)
    for module in clone.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.track_running_stats = False
            module.running_mean = None
            module.running_var = None
            module.num_batches_tracked = None
    return clone.train()


@dataclass(frozen=True)
class ReplicatedNB201:
    """An NB201 network of ``cell`` (C, N) under ``scaling``'s init, as a :class:`.max_lr.ReplicatedNet`."""

    arch: str
    C: int
    N: int
    num_classes: int = 10
    scaling: str = "arch-aware"

    def init_params(self, replicas: int, gen: torch.Generator, *, shared: bool = True) -> Params:
        if not shared:
            raise ValueError("ReplicatedNB201 draws one init shared by every replica (shared=True)")
        # the training package inits from the global RNG: seed it from the search's generator
        seed = int(torch.randint(0, 2 ** 31 - 1, (1,), generator=gen))
        state = torch.random.get_rng_state()
        try:
            torch.manual_seed(seed)
            model, _ = arch_aware_network(resolve_arch(self.arch), self.C, self.N, self.num_classes, self.scaling)
        finally:
            torch.random.set_rng_state(state)
        return {name: p.detach().unsqueeze(0).repeat(replicas, *([1] * p.dim())).clone()
                for name, p in model.named_parameters()}

    def _template(self) -> nn.Module:
        cached = self.__dict__.get("_cached_template")
        if cached is None:
            model, _ = arch_aware_network(resolve_arch(self.arch), self.C, self.N, self.num_classes, self.scaling)
            cached = _batch_stat_copy(model).to("meta")
            object.__setattr__(self, "_cached_template", cached)
        return cached

    def forward(self, params: Params, x: torch.Tensor) -> torch.Tensor:
        """Logits (G, batch, classes) of an image batch (batch, 3, H, W) shared by all replicas."""
        from torch.func import functional_call, vmap

        template = self._template()

        def one(p: Params) -> torch.Tensor:
            return functional_call(template, p, (x,))

        return vmap(one)(params)

"""Two readings of the paper's DAG MLP, component by component, as replicated networks.

``derivation`` is the network of the paper's equations (App. A / §3.3), as :class:`.dagnet.DagMLP`:
  * block: pre-activation, a layer edge is ``W relu(z_src) + b``; the readout reads ``relu(z_out)``;
  * stem: ``Linear(x)``, N(0, 1 / fan_in) (its input is not a ReLU output);
  * degree: C = 2 / d_in of the *target* vertex (App. A eq. 12);
  * readout init: mean-field, N(0, 2 / width^2) (eq. 2);
  * readout LR: eta / width (muP's SGD LR for output weights; the rule is about hidden layers).

``released`` is the network of the released code (VITA-Group/principled_scaling_lr_init,
``models/mlp_dags.py`` with ``preact=False`` as ``dag_utils.build_model`` builds it, and
``models/utils.py:critic_init_``):
  * block: post-activation, a layer edge is ``relu(W z_src + b)``; the readout reads ``z_out``;
  * stem: ``relu(Linear(x))`` with std sqrt(2 / fan_out) = sqrt(2 / width) (its init loop runs
    every Linear in ``mode='fan_out'``, degree 1 for the stem);
  * degree: C = 2 / d_in of the *source* vertex (``in_degree[_from]``, counting skip and layer
    edges, vertex 0 counted 1), std sqrt(C / fan_out) (square layers: fan_out = fan_in);
  * readout init: ``critic_init_(..., mode='fan_out', std_power=2)``: std (sqrt(2 / classes))^2
    = 2 / classes, i.e. 0.2 for CIFAR-10, whatever the width;
  * readout LR: the one LR of ``torch.optim.SGD(model.parameters(), lr)``.

Every component can be switched on its own (``MLPVariant.with_``): the topology ablation
swaps one released component for the derivation's at a time. Biases are 0 in both.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Literal

import torch
import torch.nn.functional as F

from archscale.dag import DAG, EdgeKind
from archscale.scaling import init_multipliers

from .dagnet import Params, _normal

__all__ = ["MLPVariant", "VARIANTS", "COMPONENTS", "VariantMLP"]

Degree = Literal["target", "source", "none"]


@dataclass(frozen=True)
class MLPVariant:
    block: Literal["pre", "post"]
    stem: Literal["linear", "released"]
    degree: Degree  # "none": plain He (C = 2), the standard init
    readout_init: Literal["mean-field", "released"]
    readout_lr: Literal["mup", "full"]

    def with_(self, component: str, value: str) -> MLPVariant:
        field = component.replace("-", "_")
        if field not in COMPONENTS:
            raise ValueError(f"component {component!r}: use one of {', '.join(c.replace('_', '-') for c in COMPONENTS)}")
        return replace(self, **{field: value})

    def lr_multipliers(self, width: int) -> dict[str, float]:
        return {"readout": 1.0 / width if self.readout_lr == "mup" else 1.0}

    def as_json(self) -> dict[str, str]:
        return asdict(self)


VARIANTS = {
    "derivation": MLPVariant(block="pre", stem="linear", degree="target", readout_init="mean-field", readout_lr="mup"),
    "released": MLPVariant(block="post", stem="released", degree="source", readout_init="released", readout_lr="full"),
}
COMPONENTS = ("block", "stem", "degree", "readout_init", "readout_lr")


@dataclass(frozen=True)
class VariantMLP:
    """A DAG MLP of ``width`` built as ``variant`` says; activations (G, batch, width)."""

    dag: DAG
    width: int
    variant: MLPVariant
    in_features: int = 3072
    num_classes: int = 10

    def edge_variances(self) -> dict[tuple[int, int], float]:
        if self.variant.degree == "none":
            mult = {(e.src, e.dst): 2.0 for e in self.dag.layer_edges}
        else:
            mult = init_multipliers(self.dag, degree=self.variant.degree)
        return {edge: c / self.width for edge, c in mult.items()}

    def readout_variance(self) -> float:
        if self.variant.readout_init == "released":
            return (2.0 / self.num_classes) ** 2
        return 2.0 / self.width ** 2

    def stem_variance(self) -> float:
        return 2.0 / self.width if self.variant.stem == "released" else 1.0 / self.in_features

    def init_params(self, replicas: int, gen: torch.Generator, *, shared: bool = True) -> Params:
        params: Params = {}
        for (src, dst), var in sorted(self.edge_variances().items()):
            params[f"edge{src}-{dst}.w"] = _normal((self.width, self.width), var, replicas, shared, gen)
            params[f"edge{src}-{dst}.b"] = torch.zeros(replicas, self.width)
        params["stem.w"] = _normal((self.in_features, self.width), self.stem_variance(), replicas, shared, gen)
        params["stem.b"] = torch.zeros(replicas, self.width)
        params["readout.w"] = _normal((self.width, self.num_classes), self.readout_variance(), replicas, shared, gen)
        params["readout.b"] = torch.zeros(replicas, self.num_classes)
        return params

    def forward_all(self, params: Params, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Every vertex z^(0..L+1) (G, batch, width) and the logits (G, batch, classes)."""
        post = self.variant.block == "post"
        z0 = torch.matmul(x, params["stem.w"]) + params["stem.b"].unsqueeze(1)
        if self.variant.stem == "released":
            z0 = F.relu(z0)
        z: list[torch.Tensor] = [z0]
        relu: dict[int, torch.Tensor] = {}  # pre-activation blocks: relu(z^(l)) once per source vertex
        for v in range(1, self.dag.num_vertices):
            total = torch.zeros_like(z0)
            for e in (e for e in self.dag.live_edges if e.dst == v):
                if e.kind is EdgeKind.IDENTITY:
                    total = total + z[e.src]
                    continue
                w, b = params[f"edge{e.src}-{e.dst}.w"], params[f"edge{e.src}-{e.dst}.b"].unsqueeze(1)
                if post:
                    total = total + F.relu(torch.baddbmm(b, z[e.src], w))
                else:
                    if e.src not in relu:
                        relu[e.src] = F.relu(z[e.src])
                    total = total + torch.baddbmm(b, relu[e.src], w)
            z.append(total)
        features = z[-1] if post else F.relu(z[-1])
        return z, torch.baddbmm(params["readout.b"].unsqueeze(1), features, params["readout.w"])

    def forward(self, params: Params, x: torch.Tensor) -> torch.Tensor:
        """Logits (G, batch, classes) of a flat input batch (batch, in_features) shared by all replicas."""
        return self.forward_all(params, x)[1]

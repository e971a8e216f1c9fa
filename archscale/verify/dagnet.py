"""DAG networks of paper eq. 1, replicated: G copies with their own weights, run side by side.

    z^(0) = stem(x),   z^(l) = sum over edges (l' -> l) of  W^(l',l) relu(z^(l'))  (layer edge)
                                                    or      z^(l')                   (identity edge),
    logits = readout(relu(z^(L+1))).

Edges read the *pre-activations* of their source, as in the paper (the released code puts
the ReLU at the end of each edge instead; the layer counts per path are the same). Every
parameter carries a leading replica axis G: the learning-rate grid search trains one
replica per learning rate in a single batched forward pass, and the init experiment
draws G independent networks at once.

Init (weights ~ N(0, C / fan_in), biases 0):
  * layer edge l' -> l: ``C = 2 / d_in`` of the target l (``"target"``, App. A eq. 12),
    of the source l' (``"source"``, eq. 4 and the released code), or ``C = 2`` (``"he"``);
  * stem: C = 1 (its input is not a ReLU output);
  * readout: variance 2 / width^2, the mean-field output layer of eq. 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from archscale.dag import DAG, EdgeKind
from archscale.scaling import init_multipliers

__all__ = ["InitScheme", "INIT_SCHEMES", "edge_multipliers", "Params", "DagMLP", "DagCNN", "select_replicas"]

InitScheme = Literal["target", "source", "he"]
INIT_SCHEMES: tuple[str, ...] = ("target", "source", "he")
Params = dict[str, torch.Tensor]


def edge_multipliers(dag: DAG, scheme: InitScheme) -> dict[tuple[int, int], float]:
    """C of every layer edge under ``scheme``."""
    if scheme == "he":
        return {(e.src, e.dst): 2.0 for e in dag.layer_edges}
    if scheme in ("target", "source"):
        return init_multipliers(dag, degree=scheme)
    raise ValueError(f"init={scheme!r}: use one of {', '.join(INIT_SCHEMES)}")


def select_replicas(params: Params, keep: torch.Tensor) -> Params:
    """Only the replicas ``keep`` (indices into the leading axis), as fresh leaf tensors."""
    return {name: p.detach()[keep].clone().requires_grad_(p.requires_grad) for name, p in params.items()}


def _normal(shape: tuple[int, ...], var: float, replicas: int, shared: bool, gen: torch.Generator) -> torch.Tensor:
    """N(0, var) of ``(replicas, *shape)``; with ``shared`` every replica gets the same draw."""
    if shared:
        one = torch.randn(shape, generator=gen) * var ** 0.5
        return one.unsqueeze(0).repeat(replicas, *([1] * len(shape)))
    return torch.randn((replicas, *shape), generator=gen) * var ** 0.5


class _DagNet:
    """What MLP and CNN share: the DAG walk over vertices and the parameter layout."""

    dag: DAG
    width: int
    init: InitScheme

    def _fan_in(self, channels: int) -> int:
        raise NotImplementedError

    def _edge_shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    def _apply_edge(self, params: Params, name: str, h: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def init_edges(self, replicas: int, gen: torch.Generator, shared: bool) -> Params:
        params: Params = {}
        for (src, dst), c in sorted(edge_multipliers(self.dag, self.init).items()):
            var = c / self._fan_in(self.width)
            params[f"edge{src}-{dst}.w"] = _normal(self._edge_shape(), var, replicas, shared, gen)
            params[f"edge{src}-{dst}.b"] = torch.zeros(replicas, self.width)
        return params

    def vertices(self, params: Params, z0: torch.Tensor) -> list[torch.Tensor]:
        """Pre-activations z^(0..L+1) given z^(0); a vertex with no live edge in is all zeros."""
        z: list[torch.Tensor] = [z0]
        relu: dict[int, torch.Tensor] = {}  # relu(z^(l)) computed once, read by every layer edge out of l
        incoming = {v: [e for e in self.dag.live_edges if e.dst == v] for v in range(1, self.dag.num_vertices)}
        for v in range(1, self.dag.num_vertices):
            total = torch.zeros_like(z0)
            for e in incoming[v]:
                if e.kind is EdgeKind.IDENTITY:
                    total = total + z[e.src]
                else:
                    if e.src not in relu:
                        relu[e.src] = F.relu(z[e.src])
                    total = total + self._apply_edge(params, f"edge{e.src}-{e.dst}", relu[e.src])
            z.append(total)
        return z


@dataclass(frozen=True)
class DagMLP(_DagNet):
    """Linear layers of ``width``; activations are (G, batch, width).

    ``in_features=None`` drops the stem (vertex 0 is then the input itself, as in the
    paper's eq. 1) and ``num_classes=None`` drops the readout.
    """

    dag: DAG
    width: int
    in_features: int | None = None
    num_classes: int | None = None
    init: InitScheme = "target"

    def _fan_in(self, channels: int) -> int:
        return channels

    def _edge_shape(self) -> tuple[int, ...]:
        return (self.width, self.width)

    def _apply_edge(self, params: Params, name: str, h: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(params[name + ".b"].unsqueeze(1), h, params[name + ".w"])

    def init_params(self, replicas: int, gen: torch.Generator, *, shared: bool = True) -> Params:
        params = self.init_edges(replicas, gen, shared)
        if self.in_features is not None:
            params["stem.w"] = _normal((self.in_features, self.width), 1.0 / self.in_features, replicas, shared, gen)
            params["stem.b"] = torch.zeros(replicas, self.width)
        if self.num_classes is not None:
            params["readout.w"] = _normal((self.width, self.num_classes), 2.0 / self.width ** 2, replicas, shared, gen)
            params["readout.b"] = torch.zeros(replicas, self.num_classes)
        return params

    def forward(self, params: Params, x: torch.Tensor) -> torch.Tensor:
        """Logits (G, batch, classes) of a flat input batch (batch, in_features) shared by all replicas."""
        if self.in_features is None or self.num_classes is None:
            raise ValueError("forward needs a stem and a readout: set in_features and num_classes "
                             "(or call vertices() on the bare DAG)")
        z0 = torch.matmul(x, params["stem.w"]) + params["stem.b"].unsqueeze(1)
        out = F.relu(self.vertices(params, z0)[-1])
        return torch.baddbmm(params["readout.b"].unsqueeze(1), out, params["readout.w"])


@dataclass(frozen=True)
class DagCNN(_DagNet):
    """Convolutions of kernel size q with ``width`` channels, stride 1, 'same' zero padding.

    Replicas are stacked along the channel axis, (batch, G * width, H, W), and every edge
    is one grouped convolution (groups = G). Readout: global average pool, then linear.
    """

    dag: DAG
    width: int
    kernel: int = 3
    in_channels: int = 3
    num_classes: int = 10
    init: InitScheme = "target"

    def __post_init__(self) -> None:
        if self.kernel < 1 or self.kernel % 2 == 0:
            raise ValueError(f"kernel={self.kernel}: use an odd kernel size (1, 3, 5, 7) so 'same' padding exists")

    def _fan_in(self, channels: int) -> int:
        return channels * self.kernel ** 2

    def _edge_shape(self) -> tuple[int, ...]:
        return (self.width, self.width, self.kernel, self.kernel)

    def _apply_edge(self, params: Params, name: str, h: torch.Tensor) -> torch.Tensor:
        w, b = params[name + ".w"], params[name + ".b"]
        return F.conv2d(h, w.flatten(0, 1), b.flatten(), padding=self.kernel // 2, groups=w.shape[0])

    def init_params(self, replicas: int, gen: torch.Generator, *, shared: bool = True) -> Params:
        params = self.init_edges(replicas, gen, shared)
        stem_shape = (self.width, self.in_channels, self.kernel, self.kernel)
        params["stem.w"] = _normal(stem_shape, 1.0 / self._fan_in(self.in_channels), replicas, shared, gen)
        params["stem.b"] = torch.zeros(replicas, self.width)
        params["readout.w"] = _normal((self.width, self.num_classes), 2.0 / self.width ** 2, replicas, shared, gen)
        params["readout.b"] = torch.zeros(replicas, self.num_classes)
        return params

    def forward(self, params: Params, x: torch.Tensor) -> torch.Tensor:
        """Logits (G, batch, classes) of an image batch (batch, C, H, W) shared by all replicas."""
        z0 = F.conv2d(x, params["stem.w"].flatten(0, 1), params["stem.b"].flatten(), padding=self.kernel // 2)
        pooled = F.relu(self.vertices(params, z0)[-1]).mean(dim=(2, 3))  # (batch, G * width)
        replicas = params["stem.w"].shape[0]
        pooled = pooled.view(x.shape[0], replicas, self.width).transpose(0, 1)  # (G, batch, width)
        return torch.baddbmm(params["readout.b"].unsqueeze(1), pooled, params["readout.w"])

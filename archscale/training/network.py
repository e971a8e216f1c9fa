"""The NAS-Bench-201 network (Dong & Yang, 2020), written for training speed.

Macro structure (C=16, N=5 in NB201): stem Conv3x3(3->C)+BN; N cells @C; ResNet basic
block (stride 2) ->2C; N cells @2C; block ->4C; N cells @4C; BN+ReLU; global average
pool; Linear. Every op is NB201's: a conv edge is ReLU -> Conv(bias=False) -> BN(affine,
running stats); avg-pool is 3x3 stride 1 pad 1 with count_include_pad=False.

Parameter names follow the reference implementation's state-dict layout
(``stem.0.weight``, ``cells.3.layers.4.op.1.weight``, ``cells.5.conv_a.op.1.weight``,
``classifier.weight``...), so weights trained by NB201's code load as they are.

Two exact shortcuts make the forward cheaper than the reference without changing a
single output value:
- ``none`` edges are skipped instead of adding ``x * 0`` (x + 0 == x; a vertex with no
  live input is a zero tensor, so a conv fed by it still outputs BN's bias, as NB201);
- ReLU is computed once per vertex and shared by all conv edges leaving it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from archscale.space import Cell, resolve_arch

__all__ = ["ReLUConvBN", "NB201Cell", "ResNetBasicBlock", "NB201Network", "build_network"]


class ReLUConvBN(nn.Module):
    """ReLU -> Conv(bias=False) -> BN. ``conv_bn`` skips the ReLU when the caller shares it."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out),
        )

    @property
    def conv(self) -> nn.Conv2d:
        return self.op[1]

    def conv_bn(self, relu_x: torch.Tensor) -> torch.Tensor:
        return self.op[2](self.op[1](relu_x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class _ZeroEdge(nn.Module):
    """Placeholder for a ``none`` edge: keeps layer indices aligned with the reference."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # only used when called directly
        return torch.zeros_like(x)


def _edge_module(op: str, channels: int) -> nn.Module:
    if op == "none":
        return _ZeroEdge()
    if op == "skip_connect":
        return nn.Identity()
    if op == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    if op == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, 1, 1)
    if op == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, 1, 0)
    raise ValueError(f"unknown NB201 op {op!r}")


class NB201Cell(nn.Module):
    """One 4-vertex cell; ``layers[i]`` is the op on edge ``EDGES[i]`` (reference order)."""

    def __init__(self, cell: Cell, channels: int):
        super().__init__()
        self.cell = cell
        self.edges = list(cell.edges())  # (src, dst, op), grouped by dst
        self.layers = nn.ModuleList(_edge_module(op, channels) for _s, _d, op in self.edges)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        relu: dict[int, torch.Tensor] = {}
        for dst in (1, 2, 3):
            acc = None
            for layer, (src, d, op) in zip(self.layers, self.edges):
                if d != dst or op == "none":
                    continue
                if op in ("nor_conv_3x3", "nor_conv_1x1"):
                    if src not in relu:
                        relu[src] = F.relu(nodes[src])
                    y = layer.conv_bn(relu[src])
                else:
                    y = layer(nodes[src])
                acc = y if acc is None else acc + y
            nodes.append(torch.zeros_like(x) if acc is None else acc)
        return nodes[3]


class ResNetBasicBlock(nn.Module):
    """NB201's reduction block: conv_b(conv_a(x)) + Conv1x1(AvgPool2(x)), stride 2."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.downsample = nn.Sequential(nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
                                        nn.Conv2d(c_in, c_out, 1, stride=1, padding=0, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class NB201Network(nn.Module):
    """The NB201 macro network around one cell; ``forward`` returns logits."""

    def __init__(self, cell: Cell, num_classes: int, C: int = 16, N: int = 5):
        super().__init__()
        if C < 1 or N < 1 or num_classes < 1:
            raise ValueError(f"C={C}, N={N}, num_classes={num_classes}: all must be positive integers")
        self.cell, self.C, self.N, self.num_classes = cell, C, N, num_classes
        self.stem = nn.Sequential(nn.Conv2d(3, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        blocks: list[nn.Module] = []
        channels = C
        for stage in range(3):
            if stage:
                blocks.append(ResNetBasicBlock(channels, 2 * channels))
                channels *= 2
            blocks.extend(NB201Cell(cell, channels) for _ in range(N))
        self.cells = nn.ModuleList(blocks)
        self.lastact = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for block in self.cells:
            x = block(x)
        x = self.global_pooling(self.lastact(x))
        return self.classifier(x.flatten(1))


def build_network(arch: Cell | str | int, num_classes: int, C: int = 16, N: int = 5) -> NB201Network:
    """The NB201 network for a cell (string, official index or Cell), PyTorch default init."""
    return NB201Network(resolve_arch(arch), num_classes, C, N)

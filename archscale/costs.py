"""Parameter counts and FLOPs of the full NB201 network, analytically from the cell.

Network (C=16, N=5): stem Conv3x3(3->C)+BN; N cells @C; ResNet basic block (stride 2)
->2C; N cells @2C; block ->4C; N cells @4C; BN+ReLU; global pool; Linear.

Counting conventions are NB201's (xautodl ``get_model_infos``): parameters are every
trainable tensor (BN affine included, running stats excluded); FLOPs are multiply-adds
of convolutions and linear layers (plus one add per output for a bias), per image;
pooling, BN and ReLU are not counted. The training package checks both against torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from .datasets import get_dataset
from .space import CONV_OPS, Cell, resolve_arch

__all__ = ["NetworkCost", "network_cost"]


@dataclass(frozen=True)
class NetworkCost:
    params: int
    flops: int  # multiply-adds per image


def network_cost(arch: Cell | str | int, num_classes: int | None = None, resolution: int | None = None,
                 *, dataset: str | None = None, C: int = 16, N: int = 5) -> NetworkCost:
    """Parameters and FLOPs of the NB201 network; give ``dataset`` or classes + resolution."""
    cell = resolve_arch(arch)
    if dataset is not None:
        spec = get_dataset(dataset)
        num_classes, resolution = spec.num_classes, spec.resolution
    if num_classes is None or resolution is None:
        raise ValueError("pass dataset=..., or both num_classes and resolution")
    # One pass over the cell: every cell of every stage has the same convs.
    kernels = [CONV_OPS[op] for _s, _d, op in cell.edges() if op in CONV_OPS]
    k2 = sum(k * k for k in kernels)
    params = 27 * C + 2 * C  # stem conv + BN
    flops = 27 * C * resolution * resolution
    hw, c = resolution, C
    for stage in range(3):
        if stage:  # ResNet basic block: conv_a (stride 2), conv_b, AvgPool+Conv1x1 shortcut
            c_out, hw = 2 * c, (hw + 1) // 2
            weights = 9 * c * c_out + 9 * c_out * c_out + c * c_out
            params += weights + 4 * c_out
            flops += weights * hw * hw
            c = c_out
        params += N * (k2 * c * c + 2 * c * len(kernels))
        flops += N * k2 * c * c * hw * hw
    params += 2 * c + c * num_classes + num_classes  # lastact BN, classifier
    flops += c * num_classes + num_classes
    return NetworkCost(params, flops)

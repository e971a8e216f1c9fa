"""K copies of one NB201 network trained side by side at K learning rates, in one pass.

An LR grid search trains the same network from the same init on the same batches at each
LR; only the LR differs. So the K runs are stacked into one network whose every layer holds
K replicas: the stem is one Conv2d(3 -> K*C) (K stems reading the shared input), every other
conv is grouped (``groups=K``: replica r owns channels [r*c, (r+1)*c) everywhere), BatchNorm
is per channel (so per replica), and the classifier is K linears (one einsum). One forward
gives K logits, the loss is the sum of the K mean cross-entropies (disjoint parameters, so
each replica's gradient is its own run's), and :class:`ReplicaSGD` is torch's SGD
(momentum, dampening 0, Nesterov, weight decay) with a per-replica LR. The batches and the
crop/flip draws are those of one serial run with the same seed: replica r reproduces the
serial run at LR r up to float summation order (tests/archscale/training/test_replicas.py).
Data loading, augmentation and Python overhead are paid once for the K runs.
A replica whose loss turns non-finite is frozen (LR 0, left out of the loss): it diverged.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from archscale.datasets import DatasetSpec

from .augment import Normalizer, crop_flip, sample_crop_flip
from .network import NB201Network

__all__ = ["ReplicaLinear", "stack_replicas", "ReplicaSGD", "train_epoch_replicas"]


class ReplicaLinear(nn.Module):
    """K independent Linear(F -> classes) reading channels [r*F, (r+1)*F); output (B, K, classes)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor):
        super().__init__()
        self.weight = nn.Parameter(weight)  # (K, classes, F)
        self.bias = nn.Parameter(bias)  # (K, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, _c, f = self.weight.shape
        return torch.einsum("bkf,kcf->bkc", x.view(x.shape[0], k, f), self.weight) + self.bias


def _grouped(conv: nn.Conv2d, k: int) -> nn.Conv2d:
    out = nn.Conv2d(conv.in_channels * k, conv.out_channels * k, conv.kernel_size, conv.stride, conv.padding,
                    conv.dilation, groups=k, bias=False)
    out.weight.data.copy_(conv.weight.data.repeat(k, 1, 1, 1))
    return out


def _widened_bn(bn: nn.BatchNorm2d, k: int) -> nn.BatchNorm2d:
    out = nn.BatchNorm2d(bn.num_features * k, bn.eps, bn.momentum)
    out.weight.data.copy_(bn.weight.data.repeat(k))
    out.bias.data.copy_(bn.bias.data.repeat(k))
    out.running_mean.copy_(bn.running_mean.repeat(k))
    out.running_var.copy_(bn.running_var.repeat(k))
    return out


def _replace(module: nn.Module, k: int, is_stem: bool) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.Conv2d):
            if is_stem:  # shared 3-channel input: K stems are one conv with K*C outputs
                wide = nn.Conv2d(child.in_channels, child.out_channels * k, child.kernel_size, child.stride,
                                 child.padding, bias=False)
                wide.weight.data.copy_(child.weight.data.repeat(k, 1, 1, 1))
                setattr(module, name, wide)
            else:
                setattr(module, name, _grouped(child, k))
        elif isinstance(child, nn.BatchNorm2d):
            setattr(module, name, _widened_bn(child, k))
        else:
            _replace(child, k, is_stem)


@torch.no_grad()
def stack_replicas(template: NB201Network, k: int) -> NB201Network:
    """A network computing ``k`` copies of ``template`` (same weights) side by side."""
    if k < 1:
        raise ValueError(f"k={k}: need at least one replica")
    model = copy.deepcopy(template)
    _replace(model.stem, k, is_stem=True)
    _replace(model.cells, k, is_stem=False)
    _replace(model.lastact, k, is_stem=False)
    w, b = template.classifier.weight, template.classifier.bias
    model.classifier = ReplicaLinear(w.detach().clone().unsqueeze(0).repeat(k, 1, 1),
                                     b.detach().clone().unsqueeze(0).repeat(k, 1))
    model.replicas = k
    return model


class ReplicaSGD:
    """torch.optim.SGD's update (dampening 0) with LR ``lrs[r]`` on replica r of every parameter."""

    def __init__(self, model: nn.Module, lrs: list[float], momentum: float, nesterov: bool, weight_decay: float):
        self.k = len(lrs)
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.lrs = torch.tensor(lrs, dtype=torch.float64)
        self.momentum, self.nesterov, self.weight_decay = momentum, nesterov, weight_decay
        self.buffers: list[torch.Tensor | None] = [None] * len(self.params)

    def _lr_view(self, p: torch.Tensor) -> torch.Tensor:
        per = self.lrs.to(p.device, p.dtype).repeat_interleave(p.shape[0] // self.k)
        return per.view(-1, *([1] * (p.dim() - 1)))

    def freeze(self, replica: int) -> None:
        self.lrs[replica] = 0.0

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            d_p = p.grad.add(p, alpha=self.weight_decay) if self.weight_decay else p.grad
            if self.momentum:
                buf = self.buffers[i]
                if buf is None:
                    buf = self.buffers[i] = d_p.clone()
                else:
                    buf.mul_(self.momentum).add_(d_p)
                d_p = d_p.add(buf, alpha=self.momentum) if self.nesterov else buf
            p.sub_(d_p * self._lr_view(p))


def train_epoch_replicas(model: NB201Network, optimizer: ReplicaSGD, images: torch.Tensor, labels: torch.Tensor,
                         spec: DatasetSpec, batch_size: int, norm: Normalizer, generator: torch.Generator
                         ) -> list[float]:
    """One epoch as ``engine.train_epoch`` draws it; returns each replica's mean training loss
    over the epoch (NaN for a replica that diverged)."""
    model.train()
    k, n = optimizer.k, len(labels)
    order = torch.randperm(n, generator=generator, device=generator.device)
    loss_sum = torch.zeros(k, dtype=torch.float64)
    alive = torch.ones(k, dtype=torch.bool)
    for step in range(math.ceil(n / batch_size)):
        idx = order[step * batch_size:(step + 1) * batch_size]  # the last partial batch is kept
        crop = sample_crop_flip(len(idx), spec.pad, generator)
        x = norm(crop_flip(images[idx], spec.pad, crop))
        y = labels[idx]
        logits = model(x)  # (B, K, classes)
        losses = F.cross_entropy(logits.permute(0, 2, 1), y[:, None].expand(-1, k), reduction="none").mean(0)
        finite = torch.isfinite(losses.detach()).cpu()
        for r in torch.nonzero(alive & ~finite).flatten().tolist():
            alive[r] = False
            optimizer.freeze(r)
        optimizer.zero_grad()
        if alive.any():
            losses[alive.to(losses.device)].sum().backward()
            optimizer.step()
        loss_sum += torch.where(alive, losses.detach().cpu().double(), torch.zeros(k, dtype=torch.float64)) * len(idx)
    return [loss_sum[r].item() / n if alive[r] else float("nan") for r in range(k)]

"""The paper's maximal-learning-rate criterion (§4 step 1), as a 1-epoch grid search.

For one network and one seed, train one epoch at each learning rate of a log-spaced
grid and record the *final training loss*; the maximal LR is the largest LR whose final
loss *reaches* the smallest one. Our precise reading:

* optimiser: plain SGD (no momentum, no weight decay), batch 128, no augmentation, the
  last partial batch dropped: the released code's defaults for its MLP/CNN runs;
* every LR starts from the same initial weights and sees the same batch order (one
  seed = one init + one data order), so LRs differ only by the LR;
* final training loss = mean training cross-entropy over the last ``tail`` (20 %) of the
  epoch's steps (one batch is too noisy, the epoch average remembers the start);
* a run *fails* when its loss is not finite or exceeds ``blowup * ln(classes)`` (it
  stops there), or when its final loss is no better than ln(classes), the loss of the
  uniform prediction (a network whose ReLUs all died after a huge first step ends there
  without "diverging"; such runs were first seen winning CNN searches at the grid's top):
  its final loss is +inf;
* LR ``a`` *reaches* the smallest final loss ``m`` when ``loss(a) <= (1 + tolerance) * m``.

Replicas for several LRs train side by side (``chunk`` at a time, one batched forward).
The scan runs *down* the grid from its top: the answer is never below the best LR
found so far, so once ``patience`` grid points below the best LR have trained (not
failed) without improving the smallest loss, the smaller LRs are skipped (this assumes the loss is unimodal in the
LR, and the JSON records every LR actually trained).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Protocol

import torch
import torch.nn.functional as F

from .dagnet import Params, select_replicas

__all__ = ["ReplicatedNet", "log_grid", "SearchConfig", "SearchResult", "maximal_lr", "train_one_epoch",
           "grid_search", "augment"]


class ReplicatedNet(Protocol):
    def init_params(self, replicas: int, gen: torch.Generator, *, shared: bool = True) -> Params: ...
    def forward(self, params: Params, x: torch.Tensor) -> torch.Tensor: ...


def log_grid(low: float, high: float, per_octave: int = 2) -> tuple[float, ...]:
    """Learning rates 2^(k / per_octave) from ``low`` to ``high`` (both snapped onto the grid)."""
    if not 0 < low < high:
        raise ValueError(f"grid low={low}, high={high}: need 0 < low < high")
    k0, k1 = math.floor(math.log2(low) * per_octave + 1e-9), math.ceil(math.log2(high) * per_octave - 1e-9)
    return tuple(2.0 ** (k / per_octave) for k in range(k0, k1 + 1))


@dataclass(frozen=True)
class SearchConfig:
    grid: tuple[float, ...]
    batch_size: int = 128
    tail: float = 0.2
    tolerance: float = 0.01
    chunk: int = 4
    patience: int = 2
    blowup: float = 10.0
    #: LR multiplier per parameter-name prefix ("stem", "edge", "readout"); absent = 1
    lr_multipliers: dict[str, float] = field(default_factory=dict)
    #: SGD extras (0 / False: plain SGD, the released code's MLP/CNN defaults); NB201's
    #: recipe (the paper's §4 step 1 on NB201) uses momentum 0.9, Nesterov, weight decay 5e-4
    momentum: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0
    #: > 0: random crop with this zero padding + horizontal flip per batch (images N x C x H x W),
    #: drawn from the seed, identical for every LR
    augment_pad: int = 0
    #: True: a run fails above ``blowup`` x max(ln classes, its first step's loss). Networks
    #: whose logits are large at init (the released MLP's readout: loss 10-50 nats before
    #: training) would otherwise "diverge" at step 0 at every LR
    blowup_from_initial_loss: bool = False
    #: True: LRs below the best that failed count toward ``patience`` too (a run that is too
    #: slow to beat chance in one epoch does not get faster at a smaller LR)
    failed_below_counts: bool = False

    def multiplier(self, name: str) -> float:
        return next((m for prefix, m in self.lr_multipliers.items() if name.startswith(prefix)), 1.0)

    def __post_init__(self) -> None:
        if len(self.grid) < 2 or any(b <= a for a, b in zip(self.grid, self.grid[1:])):
            raise ValueError("grid: give at least two strictly increasing learning rates (see log_grid)")
        if not 0 < self.tail <= 1:
            raise ValueError(f"tail={self.tail}: the averaged fraction of the epoch must be in (0, 1]")
        if self.tolerance < 0:
            raise ValueError(f"tolerance={self.tolerance}: use a relative tolerance >= 0, e.g. 0.01")
        if not 0 <= self.momentum < 1 or self.weight_decay < 0 or self.augment_pad < 0:
            raise ValueError(f"momentum={self.momentum}, weight_decay={self.weight_decay}, augment_pad="
                             f"{self.augment_pad}: use momentum in [0, 1) and non-negative decay / padding")


def maximal_lr(lrs: list[float], losses: list[float], tolerance: float) -> float | None:
    """The largest LR whose final loss is within ``(1 + tolerance)`` of the smallest; None if all failed."""
    finite = [loss for loss in losses if math.isfinite(loss)]
    if not finite:
        return None
    best = min(finite)
    return max(lr for lr, loss in zip(lrs, losses) if math.isfinite(loss) and loss <= (1 + tolerance) * best)


@dataclass
class SearchResult:
    """Final losses of every LR trained for one (network, seed); +inf = failed (diverged or no better than chance)."""

    seed: int
    losses: dict[float, float] = field(default_factory=dict)
    seconds: float = 0.0

    def max_lr(self, tolerance: float) -> float | None:
        lrs = sorted(self.losses)
        return maximal_lr(lrs, [self.losses[lr] for lr in lrs], tolerance)

    def at_top_edge(self, grid: tuple[float, ...], tolerance: float) -> bool:
        """True when the answer is the grid's largest LR: the true maximum may lie above it."""
        return self.max_lr(tolerance) == grid[-1]

    def at_bottom_edge(self, grid: tuple[float, ...]) -> bool:
        """True when the smallest loss is at the grid's smallest LR: the minimum is not bracketed."""
        return self.max_lr(0.0) == grid[0]

    def as_json(self) -> dict:
        return {"seed": self.seed, "seconds": round(self.seconds, 2),
                "lr_loss": [[lr, loss if math.isfinite(loss) else None] for lr, loss in sorted(self.losses.items())]}


def augment(images: torch.Tensor, pad: int, gen: torch.Generator) -> torch.Tensor:
    """Random crop of the zero-padded batch (N x C x H x W) and a random horizontal flip per image."""
    n, _c, h, w = images.shape
    padded = F.pad(images, (pad, pad, pad, pad))
    oy, ox = torch.randint(0, 2 * pad + 1, (2, n), generator=gen).to(images.device)
    flip = (torch.rand(n, generator=gen) < 0.5).to(images.device)
    ar_h, ar_w = torch.arange(h, device=images.device), torch.arange(w, device=images.device)
    rows = oy[:, None] + ar_h  # (N, H)
    cols = ox[:, None] + torch.where(flip[:, None], w - 1 - ar_w, ar_w)  # (N, W)
    batch = torch.arange(n, device=images.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def train_one_epoch(net: ReplicatedNet, x: torch.Tensor, y: torch.Tensor, lrs: list[float], seed: int,
                    config: SearchConfig) -> list[float]:
    """One epoch of SGD per LR from a common init and batch order; the final loss of each.

    Runs on ``x``'s device (the parameters are moved there).
    """
    device = x.device
    init_gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(10_007 * seed + 1)).to(device)
    aug_gen = torch.Generator().manual_seed(10_007 * seed + 2)
    steps = len(y) // config.batch_size
    if steps < 1:
        raise ValueError(f"{len(y)} images < batch_size {config.batch_size}: use more images or a smaller batch")
    tail_start = steps - max(1, round(config.tail * steps))
    params = {k: v.to(device) for k, v in net.init_params(len(lrs), init_gen, shared=True).items()}
    for p in params.values():
        p.requires_grad_(True)
    velocity: Params = {}  # momentum buffers, created at the first step (as torch.optim.SGD)
    active = torch.arange(len(lrs), device=device)  # which LRs the replicas still in `params` belong to
    rates = torch.tensor(lrs, dtype=torch.float32, device=device)
    tail_sum = torch.zeros(len(lrs), dtype=torch.float64, device=device)
    final = [0.0] * len(lrs)
    limit = None  # the blowup threshold, fixed at the first step
    for step in range(steps):
        batch = order[step * config.batch_size:(step + 1) * config.batch_size]
        xb = x[batch] if config.augment_pad == 0 else augment(x[batch], config.augment_pad, aug_gen)
        logits = net.forward(params, xb)  # (G, B, classes)
        g, b, c = logits.shape
        loss = F.cross_entropy(logits.reshape(g * b, c), y[batch].repeat(g), reduction="none").view(g, b).mean(1)
        # replica g's grads come from loss[g] only; edges off every input->output path get None
        grads = torch.autograd.grad(loss.sum(), list(params.values()), allow_unused=True)
        with torch.no_grad():
            lr = rates[active]
            for (name, p), grad in zip(params.items(), grads):
                if grad is None:
                    continue
                if config.weight_decay:
                    grad = grad + config.weight_decay * p
                if config.momentum:
                    buf = velocity.get(name)
                    buf = grad.clone() if buf is None else buf.mul_(config.momentum).add_(grad)
                    velocity[name] = buf
                    grad = grad + config.momentum * buf if config.nesterov else buf
                p.sub_((config.multiplier(name) * lr).view(-1, *([1] * (p.dim() - 1))) * grad)
            value = loss.detach().double()
            if step >= tail_start:
                tail_sum[active] += value
            if limit is None:
                first = float(value.max()) if config.blowup_from_initial_loss else 0.0
                limit = config.blowup * max(math.log(c), first if math.isfinite(first) else 0.0)
            bad = ~torch.isfinite(value) | (value > limit)
        if bad.any():
            for i in active[bad].tolist():
                final[i] = math.inf
            keep = torch.nonzero(~bad).flatten()
            if len(keep) == 0:
                return final
            active = active[keep]
            params = select_replicas(params, keep)
            velocity = {k: v[keep] for k, v in velocity.items()}
    for i in active.tolist():
        tail_mean = float(tail_sum[i]) / (steps - tail_start)
        final[i] = tail_mean if tail_mean < math.log(c) else math.inf  # no better than chance: failed
    return final


def grid_search(net: ReplicatedNet, x: torch.Tensor, y: torch.Tensor, seed: int, config: SearchConfig) -> SearchResult:
    """Scan the grid downward in chunks until ``patience`` LRs below the best stop improving."""
    start = time.perf_counter()
    result = SearchResult(seed)
    remaining = list(config.grid)
    while remaining:
        chunk, remaining = remaining[-config.chunk:], remaining[:-config.chunk]
        for lr, loss in zip(chunk, train_one_epoch(net, x, y, chunk, seed, config)):
            result.losses[lr] = loss
        lrs = sorted(result.losses)
        finite = [lr for lr in lrs if math.isfinite(result.losses[lr])]
        if finite:
            best = min(finite, key=lambda lr: result.losses[lr])
            below = lrs if config.failed_below_counts else finite
            if sum(1 for lr in below if lr < best) >= config.patience:
                break
    result.seconds = time.perf_counter() - start
    return result

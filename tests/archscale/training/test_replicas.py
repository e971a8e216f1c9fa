"""K replicas trained side by side equal K serial runs at K learning rates (the LR search's shortcut)."""

from __future__ import annotations

import pytest
import torch

from archscale.datasets import get_dataset
from archscale.protocols import get_protocol
from archscale.space import parse_arch
from archscale.training.augment import Normalizer
from archscale.training.engine import DeviceData, train_epoch
from archscale.training.replicas import ReplicaSGD, stack_replicas, train_epoch_replicas
from archscale.training.scalings import prepare

CELL = parse_arch("|nor_conv_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|nor_conv_3x3~2|")
LRS = [0.02, 0.2, 0.8]


def _data(n: int = 80):
    g = torch.Generator().manual_seed(5)
    return DeviceData(torch.randint(0, 256, (n, 32, 32, 3), dtype=torch.uint8, generator=g),
                      torch.randint(0, 10, (n,), generator=g))


@pytest.fixture
def float64():
    # float32 rounding differs between a grouped and a plain conv, and at LR 0.8 three SGD steps
    # amplify it to ~1e-3; in float64 the same comparison is exact to ~1e-8
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


def test_replicas_reproduce_serial_runs(float64):
    protocol = get_protocol("smoke")  # C=8, N=1, batch 32: 80 images = 3 steps, the last one partial
    spec, data = get_dataset("cifar10"), _data()
    as_float = Normalizer(spec.mean, spec.std, torch.device("cpu"))

    def norm(images):
        return as_float(images).double()
    serial_losses, serial_models = [], []
    for lr in LRS:
        torch.manual_seed(11)
        prepared = prepare("arch-aware", CELL, 10, protocol, base_lr=1.0)
        for group in prepared.optimizer.param_groups:
            group["lr"] = lr
        gen = torch.Generator().manual_seed(3)
        losses = [train_epoch(prepared.model, prepared.optimizer, data, spec, protocol.batch_size, norm, gen, False)[0]
                  for _ in range(1)]
        serial_losses.append(losses)
        serial_models.append(prepared.model)
    torch.manual_seed(11)
    template = prepare("arch-aware", CELL, 10, protocol, base_lr=1.0).model
    init = {"stem": template.stem[0].weight.detach().clone(), "fc": template.classifier.weight.detach().clone()}
    stacked = stack_replicas(template, len(LRS))
    opt = ReplicaSGD(stacked, LRS, protocol.momentum, protocol.nesterov, protocol.weight_decay)
    gen = torch.Generator().manual_seed(3)
    batched = [train_epoch_replicas(stacked, opt, data.images, data.labels, spec, protocol.batch_size, norm, gen)
               for _ in range(1)]
    for r, lr in enumerate(LRS):
        assert [epoch[r] for epoch in batched] == pytest.approx(serial_losses[r], rel=1e-7), lr
        stem = stacked.stem[0].weight[r * protocol.C:(r + 1) * protocol.C]
        for ours, theirs, start in ((stem, serial_models[r].stem[0].weight, init["stem"]),
                                    (stacked.classifier.weight[r], serial_models[r].classifier.weight, init["fc"])):
            assert (ours - theirs).abs().max() < 1e-6, lr
            assert (theirs - start).abs().max() > 1e-3  # and they did move
    assert len({round(v, 6) for v in batched[-1]}) == len(LRS)  # the LRs did make a difference


def test_a_diverging_replica_is_frozen_and_reported_nan():
    protocol = get_protocol("smoke")
    spec, data = get_dataset("cifar10"), _data(64)
    norm = Normalizer(spec.mean, spec.std, torch.device("cpu"))
    torch.manual_seed(0)
    stacked = stack_replicas(prepare("standard", CELL, 10, protocol).model, 2)
    opt = ReplicaSGD(stacked, [0.05, 1e6], protocol.momentum, protocol.nesterov, protocol.weight_decay)
    losses = train_epoch_replicas(stacked, opt, data.images, data.labels, spec, 32, norm,
                                  torch.Generator().manual_seed(0))
    losses += train_epoch_replicas(stacked, opt, data.images, data.labels, spec, 32, norm,
                                   torch.Generator().manual_seed(1))
    assert losses[0] == losses[0] and losses[2] == losses[2]  # the sane replica stays finite
    assert losses[3] != losses[3]  # LR 1e6 diverged: NaN, and it did not poison replica 0
    assert opt.lrs.tolist() == [pytest.approx(0.05), 0.0]

"""The smoke protocol on the real (JPEG) CIFAR-10 learns well above chance (10 %)."""

from __future__ import annotations

import os

import pytest

from archscale.protocols import get_protocol
from archscale.training import RunSpec, train_run

RESNET = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"


@pytest.fixture(scope="session")
def jpeg_cache(tmp_path_factory):
    """Reuse $REBENCH_CACHE_DIR when set (decoding 60k JPEGs takes ~10 s on 2 cores)."""
    return os.environ.get("REBENCH_CACHE_DIR") or tmp_path_factory.mktemp("rebench-cache")


@pytest.mark.slow
def test_smoke_protocol_on_jpeg_cifar10_learns(cifar10_jpeg, jpeg_cache):
    smoke = get_protocol("smoke")
    result = train_run(RunSpec(arch=RESNET, dataset="cifar10", scaling="arch-aware", protocol="smoke", seed=777,
                               data_root=cifar10_jpeg.parent, device="cpu", cache_dir=jpeg_cache))
    first, last = result.epochs[0], result.epochs[-1]
    assert len(result.epochs) == smoke.epochs and result.benchmark is False
    assert result.provenance["data_source"] == "jpeg:cifar10-jpeg.tar.gz"
    assert last["train_loss"] < first["train_loss"]
    # 1,000 real test images: chance is 10 %; this run reaches ~25 %
    assert result.final["test"]["acc"] > 20.0, result.epochs

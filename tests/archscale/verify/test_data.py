"""CIFAR-10 from the JPEG archive: balanced subsets, NB201 normalisation, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from archscale.verify.data import DataNotFound, cifar10_subset, load_cifar10


def test_subset_is_balanced_normalised_and_reproducible(cifar10_jpeg):
    data = cifar10_subset(500, seed=3, data=cifar10_jpeg.parent)
    assert data.x.shape == (500, 3, 32, 32) and data.y.bincount().tolist() == [50] * 10
    assert abs(float(data.x.mean())) < 0.2 and 0.8 < float(data.x.std()) < 1.2  # NB201 CIFAR-10 mean/std
    again = cifar10_subset(500, seed=3, data=cifar10_jpeg.parent, resolution=16, flatten=True)
    assert again.indices == data.indices and again.x.shape == (500, 3 * 16 * 16)
    # 16x16 is the mean of 2x2 blocks of the 32x32 image
    torch.testing.assert_close(again.x[0].view(3, 16, 16), data.x[0].view(3, 16, 2, 16, 2).mean(dim=(2, 4)))
    images, labels = load_cifar10("test", cifar10_jpeg.parent)
    assert images.shape == (10_000, 32, 32, 3) and np.bincount(labels).tolist() == [1000] * 10


def test_bad_requests_name_the_fix(tmp_path, cifar10_jpeg, monkeypatch):
    with pytest.raises(ValueError, match="multiple of 10"):
        cifar10_subset(55, data=cifar10_jpeg.parent)
    with pytest.raises(ValueError, match="divisor of 32"):
        cifar10_subset(100, resolution=12, data=cifar10_jpeg.parent)
    with pytest.raises(ValueError, match="'train' or 'test'"):
        load_cifar10("valid", cifar10_jpeg.parent)
    monkeypatch.setenv("NB201_CACHE_DIR", str(tmp_path / "empty-cache"))
    with pytest.raises(DataNotFound, match="NB201_DATA_DIR"):
        load_cifar10("train", tmp_path)

"""Batched augmentation: the same maps and distributions as NB201's per-image transforms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from archscale.datasets import get_dataset
from archscale.training.augment import CropFlip, Normalizer, crop_flip, sample_crop_flip


def _naive(image: np.ndarray, pad: int, oy: int, ox: int, flip: bool) -> np.ndarray:
    """torchvision's order: flip first, then RandomCrop(padding=pad, fill 0) at offset (oy, ox')."""
    h, w, _ = image.shape
    if flip:
        image = image[:, ::-1]
        ox = 2 * pad - ox  # flip-then-crop at 2p - o == crop at o then flip
    padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)))
    return padded[oy:oy + h, ox:ox + w]


@pytest.mark.parametrize("pad,side", [(4, 32), (2, 16)])
def test_crop_flip_equals_per_image_pad_crop_flip(pad, side):
    rng = np.random.default_rng(0)
    images = rng.integers(1, 256, size=(40, side, side, 3), dtype=np.uint8)  # no zeros: padding is visible
    gen = torch.Generator().manual_seed(1)
    params = sample_crop_flip(40, pad, gen)
    out = crop_flip(torch.from_numpy(images), pad, params).numpy()
    for i in range(40):
        expected = _naive(images[i], pad, int(params.oy[i]), int(params.ox[i]), bool(params.flip[i]))
        np.testing.assert_array_equal(out[i], expected)


def test_padding_is_zero_and_extreme_offsets_shift_the_image():
    img = torch.full((1, 8, 8, 3), 7, dtype=torch.uint8)
    top_left = crop_flip(img, 2, CropFlip(torch.tensor([0]), torch.tensor([0]), torch.tensor([False])))[0]
    assert (top_left[:2] == 0).all() and (top_left[:, :2] == 0).all() and (top_left[2:, 2:] == 7).all()
    centre = crop_flip(img, 2, CropFlip(torch.tensor([2]), torch.tensor([2]), torch.tensor([True])))[0]
    assert torch.equal(centre, img[0])


def test_offsets_are_uniform_over_2pad_plus_1_and_flip_is_fair():
    n, pad = 40_000, 4
    params = sample_crop_flip(n, pad, torch.Generator().manual_seed(2))
    for offsets in (params.oy, params.ox):
        counts = np.bincount(offsets.numpy(), minlength=2 * pad + 1)
        assert len(counts) == 2 * pad + 1 and counts.min() > 0
        assert stats.chisquare(counts).pvalue > 1e-4  # uniform on {0..8}
    assert stats.binomtest(int(params.flip.sum()), n, 0.5).pvalue > 1e-4
    # the two offsets and the flip are independent of each other
    table = np.histogram2d(params.oy.numpy(), params.ox.numpy(), bins=2 * pad + 1)[0]
    assert stats.chi2_contingency(table).pvalue > 1e-4


def test_normalizer_is_totensor_then_normalize_in_channels_last():
    spec = get_dataset("cifar100")
    images = torch.randint(0, 256, (5, 32, 32, 3), dtype=torch.uint8)
    out = Normalizer(spec.mean, spec.std, torch.device("cpu"))(images)
    assert out.shape == (5, 3, 32, 32) and out.is_contiguous(memory_format=torch.channels_last)
    expected = (images.permute(0, 3, 1, 2).float() / 255 - torch.tensor(spec.mean).view(1, 3, 1, 1)) \
        / torch.tensor(spec.std).view(1, 3, 1, 1)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)
    assert Normalizer(spec.mean, spec.std, torch.device("cpu"), channels_last=False)(images).is_contiguous()


def test_the_generator_alone_decides_the_draws():
    a = sample_crop_flip(100, 4, torch.Generator().manual_seed(5))
    b = sample_crop_flip(100, 4, torch.Generator().manual_seed(5))
    assert torch.equal(a.oy, b.oy) and torch.equal(a.ox, b.ox) and torch.equal(a.flip, b.flip)

"""NB201's augmentation, batched: zero-padded random crop, horizontal flip, normalise.

NB201 (torchvision, per image): RandomHorizontalFlip(p=0.5) -> RandomCrop(size, padding=pad,
fill 0) -> ToTensor (/255) -> Normalize(mean, std). Here a whole batch of uint8 NHWC images
is cropped and flipped by one gather with the same distributions: crop offsets uniform on
{0..2*pad} in each axis, independent flip with p = 1/2, zero padding. (Flip-then-crop at
offset o equals crop-at-(2*pad - o)-then-flip, and the offset law is symmetric, so the
order does not change the distribution.) All random numbers come from one generator on the
data's device: no host sync, and its state is checkpointed for exact resume.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["CropFlip", "sample_crop_flip", "crop_flip", "normalize", "Normalizer"]


@dataclass(frozen=True)
class CropFlip:
    """Per-image parameters: crop offsets into the padded image, and whether to flip."""

    oy: torch.Tensor  # (B,) int64 in [0, 2*pad]
    ox: torch.Tensor  # (B,) int64 in [0, 2*pad]
    flip: torch.Tensor  # (B,) bool


def sample_crop_flip(n: int, pad: int, generator: torch.Generator) -> CropFlip:
    device = generator.device
    offsets = torch.randint(0, 2 * pad + 1, (2, n), generator=generator, device=device)
    flip = torch.rand(n, generator=generator, device=device) < 0.5
    return CropFlip(offsets[0], offsets[1], flip)


def crop_flip(images: torch.Tensor, pad: int, params: CropFlip) -> torch.Tensor:
    """Crop (H, W) windows of the zero-padded uint8 NHWC batch at the offsets, flip some."""
    b, h, w, _c = images.shape
    padded = F.pad(images, (0, 0, pad, pad, pad, pad))  # zeros around H and W
    ar_h = torch.arange(h, device=images.device)
    ar_w = torch.arange(w, device=images.device)
    rows = params.oy[:, None] + ar_h  # (B, H)
    cols = params.ox[:, None] + torch.where(params.flip[:, None], w - 1 - ar_w, ar_w)  # (B, W)
    batch = torch.arange(b, device=images.device)[:, None, None]
    return padded[batch, rows[:, :, None], cols[:, None, :]]


class Normalizer:
    """uint8 NHWC -> float NCHW (channels_last memory): (x/255 - mean) / std, as ToTensor+Normalize."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...], device: torch.device,
                 channels_last: bool = True):
        self.mean = torch.tensor(mean, dtype=torch.float32, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32, device=device).view(1, 3, 1, 1)
        self.channels_last = channels_last

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        x = images.permute(0, 3, 1, 2).float().div_(255.0)  # NHWC memory, NCHW view
        x = x.sub_(self.mean).div_(self.std)
        return x if self.channels_last else x.contiguous()


def normalize(images: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    return Normalizer(mean, std, images.device)(images)

"""NB201's reference training pipeline, for the GPU suite's throughput stage: xautodl's network
and per-image torchvision transforms in a DataLoader, NB201's loop (a loss sync per step).
Either may be missing on a machine: our own network (same architecture) and numpy transforms
equal to torchvision's stand in, and the result says which ran."""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from archscale.datasets import get_dataset
from archscale.space import format_arch, resolve_arch

__all__ = ["reference_img_s"]


def model_and_sgd(cell: int, seed: int, C: int, N: int):
    from gpu_stages import _model

    return _model(cell, seed, C, N)


class _NumpyCropFlip(torch.utils.data.Dataset):
    """Per-image RandomHorizontalFlip -> RandomCrop(32, pad 4) -> ToTensor -> Normalize, as
    torchvision does; used when torchvision is not installed (the result says which ran)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, tv_transform=None):
        self.images, self.labels, self.tv = images, labels, tv_transform
        spec = get_dataset("cifar10")
        self.mean, self.std = np.array(spec.mean, np.float32), np.array(spec.std, np.float32)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        if self.tv is not None:
            from PIL import Image

            return self.tv(Image.fromarray(self.images[i])), int(self.labels[i])
        img = self.images[i]
        if np.random.rand() < 0.5:
            img = img[:, ::-1]
        padded = np.pad(img, ((4, 4), (4, 4), (0, 0)))
        oy, ox = np.random.randint(0, 9, 2)
        x = (padded[oy:oy + 32, ox:ox + 32].astype(np.float32) / 255.0 - self.mean) / self.std
        return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))), int(self.labels[i])


def reference_img_s(ctx, batch: int, seconds: float, workers: int) -> tuple[float, dict[str, str]]:
    cell_str = format_arch(resolve_arch(ctx.cell))
    C, N = (4, 1) if ctx.tiny else (16, 5)
    used: dict[str, str] = {}
    try:
        from xautodl.models.cell_infers.tiny_network import TinyNetwork
        from xautodl.models.cell_searchs.genotypes import Structure

        model, used["network"] = TinyNetwork(C, N, Structure.str2structure(cell_str), 10), "xautodl TinyNetwork"
    except ImportError:
        model, used["network"] = model_and_sgd(ctx.cell, 0, C, N)[0], "ours (xautodl not installed): same architecture"
    try:
        import torchvision.transforms as T

        spec = get_dataset("cifar10")
        tv = T.Compose([T.RandomHorizontalFlip(), T.RandomCrop(32, padding=spec.pad), T.ToTensor(),
                        T.Normalize(spec.mean, spec.std)])
        used["transforms"] = "torchvision per-image PIL transforms"
    except ImportError:
        tv, used["transforms"] = None, "numpy per-image transforms equivalent to torchvision's (not installed)"
    loader = torch.utils.data.DataLoader(_NumpyCropFlip(ctx.train.images, ctx.train.labels, tv), batch_size=batch,
                                         shuffle=True, num_workers=workers, pin_memory=ctx.device.type == "cuda",
                                         drop_last=True, persistent_workers=workers > 0)
    model.to(ctx.device).train()
    opt = torch.optim.SGD(model.parameters(), 0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    seen, t0, warm = 0, None, 3 if not ctx.tiny else 1
    while True:
        for i, (x, y) in enumerate(loader):
            if t0 is None and i == warm:
                ctx.sync()
                t0 = time.perf_counter()
            out = model(x.to(ctx.device, non_blocking=True))
            logits = out[1] if isinstance(out, tuple) else out
            loss = F.cross_entropy(logits, y.to(ctx.device, non_blocking=True))
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss.item()  # NB201 logs every step's loss (AverageMeter): a sync per step
            if t0 is not None:
                seen += len(y)
                if time.perf_counter() - t0 > seconds:
                    return seen / (time.perf_counter() - t0), used

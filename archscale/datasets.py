"""NB201 dataset settings as data (pure Python: shared by the API and the trainer).

A *setting* is what NB201 calls a dataset: which images train, which evaluate, and
under which names the evaluation splits are reported (``DOMAIN.md`` §2).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import UnknownName

__all__ = ["DatasetSpec", "DATASETS", "get_dataset", "UnknownDataset"]


class UnknownDataset(UnknownName):
    pass


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    num_classes: int
    resolution: int
    pad: int  # zero padding of the random crop
    mean: tuple[float, float, float]  # /255
    std: tuple[float, float, float]
    train_size: int
    #: evaluation splits reported for this setting, NB201's names -> what they are
    eval_splits: dict[str, str]
    #: the split whose accuracy NB201 publishes as "valid" / "test" for this setting
    original_valid: str | None
    original_test: str | None


def _rgb(*values: float) -> tuple[float, float, float]:
    return tuple(v / 255 for v in values)  # type: ignore[return-value]


_CIFAR10 = dict(num_classes=10, resolution=32, pad=4,
                mean=_rgb(125.3, 123.0, 113.9), std=_rgb(63.0, 62.1, 66.7))

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec("cifar10-valid", train_size=25_000, **_CIFAR10,
                    eval_splits={"valid": "the other 25k of the CIFAR-10 train set (NB201 cifar-split)"},
                    original_valid="valid", original_test=None),
        DatasetSpec("cifar10", train_size=50_000, **_CIFAR10,
                    eval_splits={"test": "the 10k CIFAR-10 test set"},
                    original_valid=None, original_test="test"),
        DatasetSpec("cifar100", num_classes=100, resolution=32, pad=4,
                    mean=_rgb(129.3, 124.1, 112.4), std=_rgb(68.2, 65.4, 70.4), train_size=50_000,
                    eval_splits={"x-valid": "5k half of the CIFAR-100 test set",
                                 "x-test": "the other 5k half"},
                    original_valid="x-valid", original_test="x-test"),
        DatasetSpec("ImageNet16-120", num_classes=120, resolution=16, pad=2,
                    mean=_rgb(122.68, 116.66, 104.01), std=_rgb(63.22, 61.26, 65.09), train_size=151_700,
                    eval_splits={"x-valid": "3k half of the ImageNet16-120 val set",
                                 "x-test": "the other 3k half"},
                    original_valid="x-valid", original_test="x-test"),
    )
}


def get_dataset(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise UnknownDataset(f"unknown dataset {name!r}; use one of {', '.join(DATASETS)}") from None

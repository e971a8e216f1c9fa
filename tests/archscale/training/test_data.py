"""Official-format readers, NB201 splits, the JPEG set and the md5-checked download."""

from __future__ import annotations

import hashlib
import tarfile

import numpy as np
import pytest

from archscale.training import DataNotFound, load_setting
from archscale.training.datafiles import read_cifar10, read_cifar10_jpeg, read_imagenet16
from archscale.training.download import Archive, ChecksumMismatch, download_archive
from archscale.training.settings import read_split_file

from .conftest import write_cifar10, write_cifar100, write_imagenet16, write_jpeg_tar, write_split


def _hwc(flat: np.ndarray, side: int) -> np.ndarray:
    return flat.reshape(-1, 3, side, side).transpose(0, 2, 3, 1)


def test_cifar10_pickles_keep_batch_order_and_labels(cifar10_root):
    root, raw = cifar10_root
    train, test = read_cifar10(root)
    assert train.images.shape == (100, 32, 32, 3) and test.images.shape == (30, 32, 32, 3)
    np.testing.assert_array_equal(train.images, _hwc(raw["train"], 32))
    np.testing.assert_array_equal(train.labels, raw["train_labels"])
    np.testing.assert_array_equal(test.labels, raw["test_labels"])


def test_cifar10_valid_uses_the_split_file_on_the_original_order(cifar10_root):
    root, raw = cifar10_root
    halves = {"train": list(range(0, 100, 2)), "valid": list(range(1, 100, 2))}
    write_split(root / "nb201_splits", "cifar-split", halves)
    setting = load_setting("cifar10-valid", root)
    assert set(setting.evals) == {"valid"} and len(setting.train) == 50
    np.testing.assert_array_equal(setting.evals["valid"].images, _hwc(raw["train"], 32)[1::2])
    np.testing.assert_array_equal(setting.train.labels, raw["train_labels"][::2])


def test_cifar100_fine_labels_and_test_halves(tmp_path):
    raw = write_cifar100(tmp_path)
    write_split(tmp_path, "cifar100-test-split", {"xvalid": [0, 2, 4, 6], "xtest": [1, 3, 5]}, gz=False)
    setting = load_setting("cifar100", tmp_path)
    assert len(setting.train) == 40 and setting.split.startswith("cifar100-test-split")
    np.testing.assert_array_equal(setting.train.labels, raw["train_labels"])
    np.testing.assert_array_equal(setting.evals["x-valid"].labels, raw["test_labels"][[0, 2, 4, 6]])
    np.testing.assert_array_equal(setting.evals["x-test"].images, _hwc(raw["test"], 32)[[1, 3, 5]])


def test_imagenet16_keeps_labels_1_to_120_and_shifts_them(tmp_path):
    raw = write_imagenet16(tmp_path)
    train, val = read_imagenet16(tmp_path, 120)
    keep = raw["train_labels"] <= 120
    np.testing.assert_array_equal(train.labels, raw["train_labels"][keep] - 1)
    np.testing.assert_array_equal(train.images, _hwc(raw["train"], 16)[keep])
    assert train.labels.min() == 0 and train.labels.max() == 119 and len(val) == 24
    write_split(tmp_path / "splits", "imagenet-16-120-test-split", {"xvalid": [0, 1], "xtest": [2, 3, 4]})
    setting = load_setting("ImageNet16-120", tmp_path, splits_dir=tmp_path / "splits")
    assert {k: len(v) for k, v in setting.evals.items()} == {"x-valid": 2, "x-test": 3}


def test_jpeg_tar_is_decoded_by_class_folder_and_cached(tmp_path):
    tar = tmp_path / "cifar10-jpeg.tar.gz"
    members = write_jpeg_tar(tar)
    train, test = read_cifar10_jpeg(tar, tmp_path / "cache")
    assert train.images.shape == (20, 32, 32, 3) and len(test) == 10
    expected = [label for _name, label in sorted(members["train"])]
    np.testing.assert_array_equal(train.labels, expected)
    cached = list((tmp_path / "cache").glob("cifar10-jpeg-*/train_images.npy"))
    assert len(cached) == 1
    tar.write_bytes(b"")  # the cache is keyed by content: a changed file is decoded again
    with pytest.raises(tarfile.ReadError):
        read_cifar10_jpeg(tar, tmp_path / "cache")


def test_cifar10_setting_falls_back_to_jpeg_but_cifar10_valid_refuses_it(tmp_path):
    write_jpeg_tar(tmp_path / "cifar10-jpeg.tar.gz")
    setting = load_setting("cifar10", tmp_path, cache_dir=tmp_path / "cache")
    assert setting.source.startswith("jpeg") and set(setting.evals) == {"test"}
    with pytest.raises(DataNotFound, match="original batch order"):
        load_setting("cifar10-valid", tmp_path, cache_dir=tmp_path / "cache")


def test_subsets_are_fixed_and_independent_of_the_run(cifar10_root):
    root, _raw = cifar10_root
    a = load_setting("cifar10", root, train_subset=16, eval_subset=8)
    b = load_setting("cifar10", root, train_subset=16, eval_subset=8)
    assert len(a.train) == 16 and len(a.evals["test"]) == 8 and "subsets" in a.split
    np.testing.assert_array_equal(a.train.images, b.train.images)


@pytest.mark.parametrize("dataset,fix", [("cifar10", "cifar10-jpeg.tar.gz"), ("cifar100", "cifar-100-python"),
                                         ("ImageNet16-120", "ImageNet16")])
def test_missing_data_says_what_to_put_where(tmp_path, dataset, fix):
    with pytest.raises(DataNotFound, match=fix):
        load_setting(dataset, tmp_path)
    with pytest.raises(DataNotFound, match="--data-root"):
        load_setting(dataset, tmp_path / "nowhere")


def test_missing_split_file_names_it(cifar10_root):
    root, _ = cifar10_root
    with pytest.raises(DataNotFound, match="cifar-split"):
        load_setting("cifar10-valid", root)


def test_real_nb201_split_files_parse(nb201_splits):
    cifar = read_split_file("cifar-split", [nb201_splits])
    assert len(cifar["train"]) == len(cifar["valid"]) == 25_000
    assert sorted(np.concatenate([cifar["train"], cifar["valid"]]).tolist()) == list(range(50_000))
    c100 = read_split_file("cifar100-test-split", [nb201_splits])
    assert len(c100["xvalid"]) == len(c100["xtest"]) == 5_000
    im = read_split_file("imagenet-16-120-test-split", [nb201_splits])
    assert len(im["xvalid"]) == len(im["xtest"]) == 3_000


def _archive_of(tmp_path, folder: str) -> tuple[Archive, bytes]:
    src = tmp_path / "src"
    write_cifar10(src)
    tgz = tmp_path / "served.tar.gz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(src / "cifar-10-batches-py", arcname=folder)
    data = tgz.read_bytes()
    return Archive(tgz.as_uri(), "cifar-10-python.tar.gz", hashlib.md5(data).hexdigest(), folder), data


def test_download_from_a_file_url_checks_md5_and_extracts(tmp_path):
    archive, _ = _archive_of(tmp_path, "cifar-10-batches-py")
    folder = download_archive(archive, tmp_path / "root")  # real urllib fetch of a file:// URL
    assert (folder / "data_batch_5").is_file()
    train, _ = read_cifar10(tmp_path / "root")
    assert len(train) == 100
    calls = []
    download_archive(archive, tmp_path / "root", fetch=lambda url, dest: calls.append(url))
    assert calls == []  # a file with the right md5 is not fetched again


def test_download_with_a_wrong_md5_is_refused_and_leaves_nothing(tmp_path):
    archive, _ = _archive_of(tmp_path, "cifar-10-batches-py")
    bad = Archive(archive.url, archive.filename, "0" * 32, archive.folder)
    with pytest.raises(ChecksumMismatch, match="md5"):
        download_archive(bad, tmp_path / "root")
    assert not any((tmp_path / "root").iterdir())


def test_download_failure_says_how_to_get_the_file_by_hand(tmp_path):
    def offline(url, dest):
        raise OSError("network unreachable")

    archive = Archive("https://example.invalid/x.tar.gz", "x.tar.gz", "0" * 32, "x")
    with pytest.raises(OSError, match="by hand"):
        download_archive(archive, tmp_path, fetch=offline)

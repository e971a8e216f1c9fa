"""train_run: recipe, exact resume, cancellation, result contents, errors."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
import torch

from archscale.training import (
    Cancelled,
    CheckpointMismatch,
    DegenerateArchitecture,
    NoBaseLR,
    RunSpec,
    RunSpecError,
    cosine_factor,
    train_run,
)
from archscale.base_lrs import BaseLREntry
from archscale.training.base_lr import write_cache
from archscale.training.checkpoint import CHECKPOINT_NAME

RESNET = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"


@pytest.fixture
def spec(cifar10_root, tiny_protocol, tmp_path) -> RunSpec:
    root, _ = cifar10_root
    for recipe in ("arch-aware", "arch-aware-derived"):  # base LRs are per protocol: the test protocol's
        write_cache(BaseLREntry("cifar10", recipe, tiny_protocol.name, 0.46, "manual", note="test"), tmp_path / "cache")
    return RunSpec(arch=RESNET, dataset="cifar10", scaling="arch-aware", protocol=tiny_protocol.name, seed=777,
                   data_root=root, device="cpu", cache_dir=tmp_path / "cache")


def test_cosine_is_stepped_per_epoch_from_the_scaled_lr(spec):
    result = train_run(replace(spec, epochs=3))
    lr = 0.46 / math.sqrt(28)
    assert result.lr == pytest.approx(lr) and result.base_lr_source == "cache"
    assert [e["lr"] for e in result.epochs] == pytest.approx([lr * cosine_factor(e, 3) for e in range(3)])
    assert cosine_factor(0, 200) == 1 and cosine_factor(100, 200) == pytest.approx(0.5)
    assert cosine_factor(199, 200) == pytest.approx(0.5 * (1 + math.cos(math.pi * 199 / 200)))


def test_every_image_is_trained_on_and_the_last_partial_batch_is_kept(spec):
    steps: list[tuple[int, int]] = []
    result = train_run(replace(spec, epochs=1), on_step=lambda i, n: steps.append((i, n)))
    assert steps[-1] == (4, 4)  # 100 images / batch 32 -> 3 full batches + 1 of 4 images
    first = result.epochs[0]
    assert 0 <= first["train_acc"] <= 100 and math.isfinite(first["train_loss"])
    # accuracy counts are over all 100 images: a multiple of 1 %
    assert first["train_acc"] == pytest.approx(round(first["train_acc"]))


def test_result_has_metrics_fingerprint_and_provenance_and_is_json(spec):
    result = train_run(spec)
    data = json.loads(json.dumps(result.to_dict()))
    assert [e["epoch"] for e in data["epochs"]] == [1, 2]
    assert set(data["final"]) == {"test"} and set(data["final"]["test"]) == {"loss", "acc"}
    assert len(data["fingerprint"]) == 64 and len(data["run_key"]) == 64
    prov = data["provenance"]
    assert prov["torch"] == torch.__version__ and prov["seed"] == 777 and prov["protocol"] == "tiny-test@v1"
    assert prov["hardware"]["device"] == "cpu" and prov["data_source"] == "cifar-10-batches-py"
    assert data["init"]["scheme"] == "arch-aware" and data["init"]["lr_rule"]["S"] == 28
    assert data["benchmark"] is False and data["wall_seconds"] > 0


def test_fingerprint_changes_with_what_changes_results(spec):
    base = train_run(replace(spec, epochs=1)).fingerprint
    assert train_run(replace(spec, epochs=1)).fingerprint == base
    for change in (dict(seed=778), dict(base_lr=0.3), dict(scaling="standard"), dict(scaling="arch-aware-derived"),
                   dict(scaling="arch-aware-derived", init_degree="source")):
        assert train_run(replace(spec, epochs=1, **change)).fingerprint != base, change


def _weights(result_dir) -> dict[str, torch.Tensor]:
    return torch.load(result_dir / CHECKPOINT_NAME, weights_only=False)["model"]


def test_resume_is_bit_for_bit(spec, tmp_path):
    straight = train_run(spec, checkpoint_dir=tmp_path / "a")

    def stop_after_first(metrics):
        if metrics.epoch == 1:
            raise Cancelled("test stop")

    with pytest.raises(Cancelled):
        train_run(spec, checkpoint_dir=tmp_path / "b", on_epoch=stop_after_first)
    assert torch.load(tmp_path / "b" / CHECKPOINT_NAME, weights_only=False)["epoch"] == 1
    resumed = train_run(spec, checkpoint_dir=tmp_path / "b")
    assert resumed.resumed_from_epoch == 1
    assert [{k: v for k, v in e.items() if k not in ("seconds", "images_per_second")} for e in resumed.epochs] == \
           [{k: v for k, v in e.items() if k not in ("seconds", "images_per_second")} for e in straight.epochs]
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    opt_a = torch.load(tmp_path / "a" / CHECKPOINT_NAME, weights_only=False)["optimizer"]["state"]
    opt_b = torch.load(tmp_path / "b" / CHECKPOINT_NAME, weights_only=False)["optimizer"]["state"]
    assert all(torch.equal(opt_a[k]["momentum_buffer"], opt_b[k]["momentum_buffer"]) for k in opt_a)


def test_a_finished_run_resumes_to_its_result_without_training(spec, tmp_path):
    first = train_run(spec, checkpoint_dir=tmp_path)
    calls = []
    again = train_run(spec, checkpoint_dir=tmp_path, on_epoch=calls.append)
    assert calls == [] and again.epochs == first.epochs and again.resumed_from_epoch == 2


def test_on_epoch_sees_every_epoch_after_its_checkpoint(spec, tmp_path):
    seen = []

    def record(metrics):
        seen.append((metrics.epoch, (tmp_path / CHECKPOINT_NAME).is_file(),
                     torch.load(tmp_path / CHECKPOINT_NAME, weights_only=False)["epoch"]))

    train_run(spec, checkpoint_dir=tmp_path, on_epoch=record)
    assert seen == [(1, True, 1), (2, True, 2)]


def test_checkpoint_of_another_run_is_refused(spec, tmp_path):
    train_run(replace(spec, epochs=1), checkpoint_dir=tmp_path)
    with pytest.raises(CheckpointMismatch, match="another run"):
        train_run(replace(spec, epochs=1, seed=1), checkpoint_dir=tmp_path)


def test_degenerate_cell_is_refused_before_reading_data_under_arch_aware(spec, tmp_path):
    dead = "|none~0|+|none~0|nor_conv_3x3~1|+|none~0|nor_conv_1x1~1|avg_pool_3x3~2|"
    with pytest.raises(DegenerateArchitecture, match="standard"):
        train_run(replace(spec, arch=dead, data_root=tmp_path / "nowhere"))
    result = train_run(replace(spec, arch=dead, scaling="standard", epochs=1))
    assert result.lr == 0.1 and result.base_lr is None


def test_standard_and_mup_train(spec):
    for scaling in ("standard", "mup"):
        result = train_run(replace(spec, scaling=scaling, epochs=1))
        assert math.isfinite(result.epochs[0]["train_loss"]) and result.base_lr_source == "protocol"


@pytest.mark.parametrize("field,value,match", [
    ("dataset", "cifar11", "use one of cifar10-valid, cifar10"),
    ("scaling", "he", "use one of arch-aware, arch-aware-derived, standard"),
    ("init_degree", "source", "only scaling 'arch-aware-derived'"),
    ("protocol", "nb201-100", "use one of nb201-200"),
    ("arch", "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op"),
    ("arch", 15625, "outside 0..15624"),
    ("precision", "fp16", "fp32, bf16"),
    ("device", "tpu", "auto, cpu, cuda"),
    ("seed", -1, "non-negative"),
    ("base_lr", 0.0, "positive"),
    ("data_root", None, "is required"),
])
def test_bad_fields_name_the_field_and_the_fix(spec, field, value, match):
    with pytest.raises(RunSpecError, match=match) as info:
        train_run(replace(spec, **{field: value}))
    assert info.value.field == field


def test_unknown_base_lr_tells_the_user_to_run_the_search(spec, tmp_path):
    with pytest.raises(NoBaseLR, match="rebench base-lr --dataset cifar100"):
        train_run(replace(spec, dataset="cifar100"))


def test_bf16_autocast_runs_on_cpu_and_is_fingerprinted(spec):
    fp32 = train_run(replace(spec, epochs=1))
    bf16 = train_run(replace(spec, epochs=1, precision="bf16"))
    assert math.isfinite(bf16.epochs[0]["train_loss"]) and bf16.provenance["precision"] == "bf16"
    assert bf16.fingerprint != fp32.fingerprint


def test_plain_and_fast_paths_train_the_same_run_up_to_rounding(spec):
    fast = train_run(replace(spec, epochs=1))
    plain = train_run(replace(spec, epochs=1, fast=False))
    assert fast.fingerprint == plain.fingerprint  # layout is not part of the result's identity
    assert plain.epochs[0]["train_loss"] == pytest.approx(fast.epochs[0]["train_loss"], rel=1e-3)


def test_per_arch_searched_trains_at_its_own_searched_lr_and_stores_the_grid(spec):
    dead = "|none~0|+|none~0|nor_conv_3x3~1|+|none~0|nor_conv_1x1~1|avg_pool_3x3~2|"  # S = 0: still searchable
    for arch in (RESNET, dead):
        result = train_run(replace(spec, arch=arch, scaling="per-arch-searched", epochs=1))
        search = result.init["lr_rule"]["search"]
        assert len(search["grid"]) == len(search["losses"]) == 12 and result.lr == search["lr"] == result.base_lr
        finite = [(lr, loss) for lr, loss in zip(search["grid"], search["losses"]) if loss is not None]
        best = min(loss for _, loss in finite)
        assert result.lr == max(lr for lr, loss in finite if loss == best)  # the largest LR at the smallest loss
        assert result.base_lr_source == "per-arch-search" and result.init["recipe"].startswith("arch-aware@")
    assert result.fingerprint_fields["extra"]["lr_search_grid"] == search["grid"]


def test_standard_tuned_uses_its_own_base_lr_for_every_cell(spec, tmp_path):
    write_cache(BaseLREntry("cifar10", "standard-tuned", spec.protocol, 0.2, "manual", note="test"),
                tmp_path / "cache")
    for arch in (RESNET, 6111):
        result = train_run(replace(spec, arch=arch, scaling="standard-tuned", epochs=1))
        assert result.lr == result.base_lr == 0.2 and result.init["scheme"] == "pytorch-default"

"""``rebench train`` and ``rebench base-lr`` on tiny official-format data."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from archscale.protocols import get_protocol
from archscale.training import RunSpec, pick_base_lr, resolve_base_lr, train_run
from archscale.training.base_lr import cache_path, default_grid, read_cache
from service.cli import app

runner = CliRunner()
RESNET = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"


def test_train_writes_json_with_every_epoch_and_the_fingerprint(cifar10_root, tiny_protocol, tmp_path):
    root, _ = cifar10_root
    out = tmp_path / "out" / "r.json"
    result = runner.invoke(app, ["train", "6111", "--protocol", tiny_protocol.name, "--data-root", str(root),
                                 "--device", "cpu", "--cache-dir", str(tmp_path / "c"), "-o", str(out),
                                 "--checkpoint-dir", str(tmp_path / "ck")])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert [e["epoch"] for e in data["epochs"]] == [1, 2] and len(data["fingerprint"]) == 64
    assert set(data["epochs"][0]) >= {"train_loss", "train_acc", "eval", "lr"}
    assert data["arch_index"] == 6111 and (tmp_path / "ck" / "latest.pt").is_file()
    assert "test acc" in result.stdout


@pytest.mark.parametrize("args,message", [
    (["6111", "--dataset", "cifar11"], "--dataset"),
    (["6111", "--scaling", "he"], "--scaling"),
    (["6111", "--protocol", "nb201-1"], "--protocol"),
    (["|bad~0|", "--data-root", "."], "ARCH"),
    (["6111"], "--data-root"),
])
def test_train_errors_name_the_option(args, message):
    result = runner.invoke(app, ["train", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_train_missing_data_says_where_to_put_it(tmp_path):
    result = runner.invoke(app, ["train", "6111", "--data-root", str(tmp_path), "--device", "cpu"])
    assert result.exit_code == 2 and "cifar-10-batches-py" in result.output


def test_train_refuses_degenerate_cells_under_arch_aware(tmp_path):
    dead = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    result = runner.invoke(app, ["train", dead, "--data-root", str(tmp_path), "--device", "cpu"])
    assert result.exit_code == 2 and "undefined" in result.output


def test_pick_base_lr_takes_the_largest_lr_at_the_smallest_loss():
    assert pick_base_lr({0.1: 1.5, 0.2: 1.2, 0.46: 1.2, 1.0: float("nan"), 2.0: 3.0}) == 0.46
    assert pick_base_lr({0.1: 1.0, 0.2: 1.1}) == 0.1
    with pytest.raises(ValueError, match="diverged"):
        pick_base_lr({0.1: float("inf")})
    grid = default_grid()
    assert grid[0] == 0.01 and 0.464159 in grid and len(grid) == 15


def test_base_lr_search_caches_and_train_run_uses_the_cache(cifar10_root, tiny_protocol, tmp_path):
    root, _ = cifar10_root
    cache = tmp_path / "cache"
    result = runner.invoke(app, ["base-lr", "--dataset", "cifar10", "--protocol", tiny_protocol.name,
                                 "--data-root", str(root), "--grid", "0.05,0.5", "--device", "cpu",
                                 "--cache-dir", str(cache)])
    assert result.exit_code == 0, result.output
    entry = next(iter(read_cache(cache).values()))
    losses = {float(k): v for k, v in entry["losses"].items()}
    assert set(losses) == {0.05, 0.5} and entry["base_lr"] == pick_base_lr(losses)
    assert cache_path(cache).is_file() and entry["protocol_fingerprint"] == tiny_protocol.fingerprint
    assert resolve_base_lr("cifar10", tiny_protocol, None, cache) == (entry["base_lr"], "cache")
    assert resolve_base_lr("cifar10", tiny_protocol, 0.3, cache) == (0.3, "explicit")
    assert resolve_base_lr("cifar10", get_protocol("smoke"), None, cache) == (0.46, "builtin")
    run = train_run(RunSpec(arch=RESNET, protocol=tiny_protocol.name, data_root=root, device="cpu", epochs=1,
                            cache_dir=cache))
    assert run.base_lr_source == "cache" and run.base_lr == entry["base_lr"]


def test_base_lr_rejects_a_bad_grid(tmp_path):
    result = runner.invoke(app, ["base-lr", "--grid", "0.1,abc", "--data-root", str(tmp_path)])
    assert result.exit_code == 2 and "--grid" in result.output

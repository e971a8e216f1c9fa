"""``service.client`` and the nas_201_api-compatible ``service.nb201_client`` against the live app.

The real app runs under uvicorn in a thread on a free port, on PostgreSQL with NB201's real
published numbers imported. Re-trained results are TEST DATA written through the storage API a
worker uses (``create_runs`` / ``claim_run`` / ``append_epoch`` / ``store_final_result``): made-up
curves with two seeds, so every number the client returns can be checked against what was stored.
"""

from __future__ import annotations

import csv
import gzip
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
from scipy.stats import kendalltau

from archscale.protocols import get_protocol, run_fingerprint
from archscale.space import cell_at, format_arch, is_valid_arch
from service.client import ApiError
from service.nb201_client import NotBenchmarked, NotHeld, RebenchAPI
from service.storage.keys import create_key
from service.storage.results import append_epoch, store_final_result
from service.storage.runs import RunSpec, claim_run, create_runs, mark_failed

from .conftest import serve_app, settings_for, wipe_runs

ARCH = 6111
SEEDS = (1, 2)


def curve_row(epoch: int, seed: int) -> dict:
    """Made-up, distinct per epoch and seed, so means and epoch picks are checkable."""
    return {"train_loss": 3.0 / epoch + seed / 100, "train_acc": 99.0 - 80 / epoch + seed / 10,
            "lr": 0.1, "seconds": 10.0 + seed + epoch / 10,
            "evals": {"x-valid": {"acc": 90.0 - 70 / epoch + seed / 10, "loss": 2.5 / epoch},
                      "x-test": {"acc": 89.0 - 70 / epoch + seed / 10, "loss": 2.6 / epoch + seed / 10},
                      "test": {"acc": 92.0 - 75 / epoch + seed / 10, "loss": 1.5 / epoch}}}


def write_run(db, arch: int, dataset: str, scaling: str, protocol: str, seed: int) -> int:
    """A finished run, through the storage calls the worker makes; the final result = last epoch."""
    splits = {"cifar100": ("x-valid", "x-test"), "cifar10": ("test",)}[dataset]
    epochs = get_protocol(protocol).epochs
    with db.transaction() as session:
        run_id = create_runs(session, [RunSpec.resolve(arch, dataset, scaling, protocol, seed)])[0].id
        claim_run(session, run_id, "test-worker")
        for epoch in range(1, epochs + 1):
            row = curve_row(epoch, seed)
            append_epoch(session, run_id, epoch, train_loss=row["train_loss"], train_acc=row["train_acc"], lr=row["lr"],
                         seconds=row["seconds"], evals={s: row["evals"][s] for s in splits})
        last = curve_row(epochs, seed)
        metrics = {**{s: last["evals"][s] for s in splits},
                   "train": {"loss": last["train_loss"], "acc": last["train_acc"]}}
        fingerprint = run_fingerprint(protocol=get_protocol(protocol), scaling=scaling, dataset=dataset, seed=seed,
                                      base_lr=0.46, precision="fp32", code_version="test", split="test")
        store_final_result(session, run_id, fingerprint=fingerprint, code_version="test", metrics=metrics)
    return run_id


@pytest.fixture(scope="module")
def live(pg_db) -> Iterator[dict]:
    from service.api import create_app

    wipe_runs(pg_db)
    runs = {seed: write_run(pg_db, ARCH, "cifar100", "arch-aware", "nb201-12", seed) for seed in SEEDS}
    runs["c10"] = write_run(pg_db, ARCH, "cifar10", "standard", "nb201-200", 7)
    with pg_db.transaction() as session:  # a failed run of the same series must be ignored
        failed = create_runs(session, [RunSpec.resolve(ARCH, "cifar100", "arch-aware", "nb201-12", 3)])[0].id
        claim_run(session, failed, "test-worker")
        mark_failed(session, failed, "test: failed on purpose", None)
        key = create_key(session, "client-live-test").secret
    app = create_app(settings_for(pg_db))
    with serve_app(app) as url:
        app.state.rebench.snapshots.refresh()
        with RebenchAPI(url, api_key=key) as api:
            yield {"api": api, "url": url, "key": key, "runs": runs, "db": pg_db, "app": app}


@pytest.fixture(scope="module")
def published(nb201_csv) -> dict:
    with gzip.open(nb201_csv, "rt") as handle:
        return {(int(r["arch_index"]), r["dataset"]): r for r in csv.DictReader(handle)}


def mean(values) -> float:
    return sum(values) / len(values)


def test_query_index_by_arch_mirrors_nas_201_api(live):
    api = live["api"]
    canonical = format_arch(cell_at(ARCH))
    assert api.query_index_by_arch(canonical) == ARCH and api.arch(ARCH) == canonical and len(api) == 15_625
    assert api.query_index_by_arch(ARCH) == ARCH and api.query_index_by_arch(0) == 0

    class Structure:  # like NB201's CellStructure
        def tostr(self) -> str:
            return canonical

    assert api.query_index_by_arch(Structure()) == ARCH
    first, second, third = canonical.split("+")
    reordered = "+".join([first, second, "|" + "|".join(reversed(third.strip("|").split("|"))) + "|"])
    assert is_valid_arch(reordered) and reordered != canonical
    assert api.query_index_by_arch(reordered) == -1  # the same cell, but NB201 compares exact strings
    assert api.query_index_by_arch("|conv~0|+") == -1 and api.query_index_by_arch(None) == -1
    for bad in (15_625, -1, True):
        with pytest.raises(ValueError):
            api.query_index_by_arch(bad)


def test_get_more_info_mean_over_seeds_last_epoch(live):
    api = live["api"].with_source("arch-aware")  # hp picks the protocol: '12' -> nb201-12
    info = api.get_more_info(ARCH, "cifar100", hp="12", is_random=False)  # the seed mean
    last = {seed: curve_row(12, seed) for seed in SEEDS}
    expected = {
        "train-loss": mean([last[s]["train_loss"] for s in SEEDS]),
        "train-accuracy": mean([last[s]["train_acc"] for s in SEEDS]),
        "train-all-time": mean([sum(curve_row(e, s)["seconds"] for e in range(1, 13)) for s in SEEDS]),
        "valid-accuracy": mean([last[s]["evals"]["x-valid"]["acc"] for s in SEEDS]),
        "valid-loss": mean([last[s]["evals"]["x-valid"]["loss"] for s in SEEDS]),
        "test-accuracy": mean([last[s]["evals"]["x-test"]["acc"] for s in SEEDS]),
        "test-loss": mean([last[s]["evals"]["x-test"]["loss"] for s in SEEDS]),
    }
    for key, value in expected.items():
        assert info[key] == pytest.approx(value), key
    assert info["train-per-time"] == pytest.approx(expected["train-all-time"] / 12)
    for key in ("valid-per-time", "test-all-time", "valtest-accuracy"):  # eval time, ori-test: not held
        with pytest.raises(NotHeld):
            info[key]
    assert info.provenance["seeds"] == list(SEEDS)  # the failed seed-3 run is not counted
    assert info.provenance["protocol"] == get_protocol("nb201-12").key
    assert info.provenance["split"] == {"valid": "x-valid", "test": "x-test"}
    assert set(info) == set(expected) | {"train-per-time"}  # nas_201_api's keys, those held
    assert info.provenance["source"] == f"arch-aware@{get_protocol('nb201-12').key}/fp32"


def test_get_more_info_iepoch_and_is_random(live):
    api = live["api"].with_source("arch-aware@nb201-12")
    at3 = api.get_more_info(ARCH, "cifar100", iepoch=3, hp=12, is_random=2)  # 0-based: epoch 4 of seed 2
    row = curve_row(4, 2)
    assert at3["train-accuracy"] == row["train_acc"] and at3["test-accuracy"] == row["evals"]["x-test"]["acc"]
    assert at3["train-all-time"] == pytest.approx(sum(curve_row(e, 2)["seconds"] for e in range(1, 5)))
    assert at3.provenance["seeds"] == [2]
    mean_at0 = api.get_more_info(ARCH, "cifar100", iepoch=0, hp="12", is_random=False)
    first = [curve_row(1, s)["evals"]["x-valid"]["acc"] for s in SEEDS]
    assert mean_at0["valid-accuracy"] == pytest.approx(mean(first))
    last_by_index = api.get_more_info(ARCH, "cifar100", iepoch=11, hp="12", is_random=False)
    assert last_by_index["test-loss"] == pytest.approx(
        api.get_more_info(ARCH, "cifar100", hp="12", is_random=False)["test-loss"])
    for _ in range(4):  # True (the default): one of the stored seeds, its own numbers
        drawn = api.get_more_info(ARCH, "cifar100", hp="12")
        (seed,) = drawn.provenance["seeds"]
        assert seed in SEEDS and drawn["valid-accuracy"] == curve_row(12, seed)["evals"]["x-valid"]["acc"]


def test_get_more_info_cifar10_and_string_arch(live):
    api = live["api"].with_source("standard@nb201-200")
    info = api.get_more_info(format_arch(cell_at(ARCH)), "cifar10", hp="200", is_random=False)
    row = curve_row(200, 7)
    assert info["test-accuracy"] == row["evals"]["test"]["acc"] and info.provenance["seeds"] == [7]
    assert "valid-accuracy" not in info and info.provenance["split"] == {"test": "test"}
    assert info.provenance["protocol"] == get_protocol("nb201-200").key


def test_get_more_info_original_numbers(live, published):
    api = live["api"]  # no source: NB201's published numbers
    row = published[(ARCH, "cifar100")]
    info = api.get_more_info(ARCH, "cifar100", hp="200", is_random=False)
    assert info["valid-accuracy"] == float(row["valid_acc"]) and info["test-accuracy"] == float(row["test_acc"])
    for key in ("train-accuracy", "test-loss"):
        with pytest.raises(NotHeld):
            info[key]
    assert info.provenance["protocol"] == get_protocol("nb201-200").key and info.provenance["source"] == "nb201"
    c10v = api.get_more_info(ARCH, "cifar10-valid", iepoch=199, hp="200", is_random=False)
    assert c10v["valid-accuracy"] == float(published[(ARCH, "cifar10-valid")]["valid_acc"])
    assert "test-accuracy" not in c10v  # cifar10-valid's ori-test is not imported
    c10 = api.get_more_info(ARCH, "cifar10", hp="200", is_random=False)
    assert c10["test-accuracy"] == float(published[(ARCH, "cifar10")]["test_acc"])
    nats = api.with_source("nats-tss").get_more_info(ARCH, "cifar10", hp="200", is_random=False)
    assert nats["test-accuracy"] == float(published[(ARCH, "cifar10")]["test_acc_nats_tss"])


@pytest.mark.parametrize("source, kwargs, error, names", [
    ("arch-aware", {"dataset": "cifar-10"}, ValueError, ["dataset", "cifar10-valid", "ImageNet16-120"]),
    ("arch-aware", {"hp": "90"}, ValueError, ["hp", "'200'", "'12'"]),
    ("arch-aware", {"iepoch": 12}, ValueError, ["iepoch", "0..11"]),
    ("arch-aware", {"is_random": 3}, ValueError, ["is_random", "1, 2"]),  # seed 3 failed: not a result
    ("arch-aware", {"is_random": "yes"}, ValueError, ["is_random"]),
    ("arch-aware@nb201-200", {}, NotHeld, ["hp='12'", "200-epoch"]),
    (None, {"hp": "200", "is_random": True}, NotHeld, ["is_random", "seed-means"]),
    (None, {"hp": "200", "iepoch": 5}, NotHeld, ["iepoch", "last epoch"]),
    (None, {"hp": "12"}, NotHeld, ["hp", "hp='200'", "source='arch-aware'"]),
    ("arch-aware", {"index": "|bad|"}, ValueError, ["index", "canonical"]),
])
def test_get_more_info_errors_name_the_argument(live, source, kwargs, error, names):
    call = {"index": ARCH, "dataset": "cifar100", "hp": "12", "is_random": False, **kwargs}
    with pytest.raises(error) as caught:
        live["api"].with_source(source).get_more_info(**call)
    for name in names:
        assert name in str(caught.value)


def test_unknown_sources_are_refused_at_construction(live):
    for source, names in (("mu-p", ["source", "arch-aware"]), ("arch-aware@nb201-90", ["protocol", "nb201-200"]),
                          ("arch-aware/fp8", ["precision", "bf16"])):
        with pytest.raises(ValueError) as caught:
            RebenchAPI(live["url"], source=source)
        assert all(name in str(caught.value) for name in names)


def test_missing_results_raise_not_benchmarked(live):
    api = live["api"].with_source("arch-aware")
    with pytest.raises(NotBenchmarked, match="submit one"):
        api.get_more_info(1, "cifar100", hp="12", is_random=False)
    with pytest.raises(NotBenchmarked):
        api.get_more_info(ARCH, "ImageNet16-120", hp="200", is_random=False)  # no runs there


def test_arch_runs_listing(live):
    client = live["api"].client
    listing = client.arch_runs(ARCH, dataset="cifar100", protocol="nb201-12")
    assert sorted((r["seed"], r["status"]) for r in listing["runs"]) == [(1, "succeeded"), (2, "succeeded"),
                                                                         (3, "failed")]
    assert {r["id"] for r in listing["runs"] if r["seed"] in SEEDS} == {live["runs"][s] for s in SEEDS}
    assert client.arch_runs(ARCH, status="succeeded", scaling="standard")["runs"][0]["id"] == live["runs"]["c10"]
    with pytest.raises(ApiError) as caught:
        client.arch_runs(ARCH, protocol="nope")
    assert caught.value.status == 422 and caught.value.detail[0]["loc"] == ["query", "protocol"]
    with pytest.raises(ApiError) as caught:
        client.arch_runs(15_625)
    assert caught.value.status == 404 and caught.value.detail[0]["loc"] == ["path", "arch"]
    with pytest.raises(ApiError) as caught:
        client.arch_runs("|conv~0|")
    assert caught.value.status == 422 and "vertex groups" in caught.value.detail[0]["msg"]


def test_leaderboard_and_kendall_delegate(live, published):
    api = live["api"]
    board = api.leaderboard(dataset="cifar100", scaling="arch-aware", protocol="nb201-12", has_results=True)
    assert [r["index"] for r in board["rows"]] == [ARCH] and board["split"] == "x-test"
    assert board["rows"][0]["rescaled"] == pytest.approx(mean([curve_row(12, s)["evals"]["x-test"]["acc"]
                                                               for s in SEEDS]))
    tau = api.kendall(dataset="cifar100", a="nb201:valid", b="nats-tss:test", k=[100])
    x = np.array([float(published[(i, "cifar100")]["valid_acc"]) for i in range(15_625)])
    y = np.array([float(published[(i, "cifar100")]["test_acc_nats_tss"]) for i in range(15_625)])
    assert tau["rows"][0]["tau"] == pytest.approx(kendalltau(x, y).statistic, abs=1e-12)


def test_submit_wait_and_read_back(live):
    api, db = live["api"], live["db"]
    accepted = api.submit(ARCH, dataset="cifar10", scaling="arch-aware", protocol="smoke", seeds=[5])
    run_id = accepted["runs"][0]["id"]
    assert accepted["protocol"]["name"] == "smoke" and accepted["runs"][0]["status"] == "queued"
    with pytest.raises(TimeoutError):
        api.wait(accepted, poll_s=0.05, timeout_s=0.2)

    def worker() -> None:  # what a worker does, a little later
        time.sleep(0.3)
        with db.transaction() as session:
            claim_run(session, run_id, "test-worker")
            for epoch in range(1, 5):
                row = curve_row(epoch, 5)
                append_epoch(session, run_id, epoch, train_loss=row["train_loss"], train_acc=row["train_acc"],
                             seconds=row["seconds"], evals={"test": row["evals"]["test"]})
            fingerprint = run_fingerprint(protocol=get_protocol("smoke"), scaling="arch-aware", dataset="cifar10",
                                          seed=5, base_lr=0.46, precision="fp32", code_version="test", split="test")
            store_final_result(session, run_id, fingerprint=fingerprint, code_version="test",
                               metrics={"test": curve_row(4, 5)["evals"]["test"]})

    thread = threading.Thread(target=worker)
    thread.start()
    seen: list[str] = []
    (done,) = api.wait(accepted, poll_s=0.05, timeout_s=20, on_update=lambda r: seen.append(r["status"]))
    thread.join()
    assert done["status"] == "succeeded" and seen[0] == "queued"
    live["app"].state.rebench.snapshots.refresh()  # the watcher would, within CACHE_CHECK_S
    info = api.with_source("arch-aware@smoke").get_more_info(ARCH, "cifar10", hp="200", is_random=5)
    assert info["test-accuracy"] == curve_row(4, 5)["evals"]["test"]["acc"]
    assert info.provenance["protocol"].startswith("smoke@")
    assert info["train-accuracy"] == curve_row(4, 5)["train_acc"]  # no train split in the result: last epoch
    with pytest.raises(ApiError) as caught:
        RebenchAPI(live["url"]).submit(ARCH, protocol="smoke", seeds=[6])  # no key
    assert caught.value.status == 401


def test_client_imports_without_torch():
    code = ("import sys; import service.nb201_client, service.client; "
            "assert 'torch' not in sys.modules, 'torch imported'; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_wait_shows_progress_and_the_final_accuracies(live, capsys):
    from service.client import RebenchClient

    ids = [live["runs"][seed] for seed in SEEDS]
    with RebenchClient(live["url"], live["key"]) as client:
        runs = client.wait(ids, poll_s=0.05)  # a batch of finished runs: one progress line, then the results
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"{len(ids)}/{len(ids)} finished (succeeded {len(ids)})"
    expected = {r["id"]: f"{r['result']['metrics']['x-test']['acc']:.2f}" for r in runs}
    for run_id, acc in expected.items():
        assert any(line.split()[:1] == [str(run_id)] and line.rstrip().endswith(acc) for line in err), err


def test_submit_wait_prints_a_results_table(live):
    from typer.testing import CliRunner

    from archscale.base_lrs import BaseLREntry
    from service.cli import app
    from service.storage.base_lrs import store_entry

    with live["db"].transaction() as session:  # cifar100 has no searched base LR yet (else 409 no_base_lr)
        store_entry(session.connection(), BaseLREntry("cifar100", "arch-aware", "nb201-12", 0.46, "manual",
                                                      note="test"))
    args = ["submit", str(ARCH), "--dataset", "cifar100", "--protocol", "nb201-12", "--wait",
            "--url", live["url"], "--api-key", live["key"], *[x for s in SEEDS for x in ("--seed", str(s))]]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert not any("{" in line for line in lines), result.output  # no reprs
    for seed in SEEDS:
        acc = f"{89.0 - 70 / 12 + seed / 10:.2f}"  # curve_row's x-test accuracy at the last (12th) epoch
        assert any(f"{live['runs'][seed]}" in line and "succeeded" in line and acc in line for line in lines), \
            result.output

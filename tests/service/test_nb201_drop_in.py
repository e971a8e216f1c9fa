"""``RebenchAPI`` as a nas_201_api drop-in, against a live server on PostgreSQL and on SQLite.

Published numbers are checked against the CSV files read here directly; re-trained numbers
against the made-up runs ``nb201_live`` wrote the worker's way. The search loops of
``nas_search`` run unchanged on both sources and on the CSV reference: same RNG seed, same
trajectory, step for step.
"""

from __future__ import annotations

import csv
import gzip
import random

import httpx
import numpy as np
import pytest
from scipy.stats import kendalltau

from service.nb201_client import NotHeld, RebenchAPI
from tests.conftest import _require, data_dir

from . import nas_search
from .conftest import BACKENDS
from .nb201_live import (EPOCHS, RETRAINED_OPS, RETRAINED_SOURCE, live_server, retrained_cells, retrained_epoch,
                         retrained_seeds)
from .nb201_reference import Reference

ARCHS = (0, 11, 284, 1835, 6111, 15_624)


def _rows(name: str) -> list[dict]:
    with gzip.open(data_dir() / name, "rt") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def data():
    for name in ("nb201_original.csv.gz", "nb201_tss_hp200_perseed_valid.csv.gz", "nb201_tss_hp200_cost.csv.gz"):
        _require(data_dir() / name)
    original = {(int(r["arch_index"]), r["dataset"]): r for r in _rows("nb201_original.csv.gz")}
    seeds: dict = {}
    for r in _rows("nb201_tss_hp200_perseed_valid.csv.gz"):
        seeds.setdefault((int(r["arch_index"]), r["dataset"]), {})[int(r["seed"])] = float(r["valid_acc"])
    costs = {(int(r["arch_index"]), r["dataset"]): r for r in _rows("nb201_tss_hp200_cost.csv.gz")}
    return {"original": original, "seeds": seeds, "costs": costs}


@pytest.fixture(scope="module")
def reference() -> Reference:
    return Reference.published(data_dir())


@pytest.fixture(scope="module", params=BACKENDS)
def live(request, tmp_path_factory):
    _require(data_dir() / "nb201_tss_hp200_cost.csv.gz")
    with live_server(request.param, data_dir(), tmp_path_factory.mktemp("nb201")) as server:
        with RebenchAPI(server["url"]) as api:
            yield {**server, "api": api, "retrained": api.with_source(RETRAINED_SOURCE)}


def test_published_get_more_info_is_the_csv(live, data):
    api = live["api"]
    for index in ARCHS:
        for dataset in ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120"):
            row = data["original"][(index, dataset)]
            info = api.get_more_info(index, dataset, None, hp="200", is_random=False)
            if row["valid_acc"]:
                assert info["valid-accuracy"] == float(row["valid_acc"]) and type(info["valid-accuracy"]) is float
            if row["test_acc"]:
                assert info["test-accuracy"] == float(row["test_acc"])
            if dataset != "cifar10":
                total = float(data["costs"][(index, dataset)]["train_all_time"])
                assert info["train-all-time"] == total and info["train-per-time"] == total / 200
            assert info.provenance["source"] == "nb201" and info.provenance["protocol"] == "nb201-200@v1"
    c10v = api.get_more_info(6111, "cifar10-valid", hp="200", is_random=False)
    assert set(c10v) == {"valid-accuracy", "train-all-time", "train-per-time"}
    for key, words in (("test-accuracy", "dataset='cifar10'"), ("train-loss", "source='arch-aware@nb201-200'"),
                       ("valid-per-time", "train-all-time"), ("valid-loss", "losses")):
        with pytest.raises(NotHeld, match=rf"{key}.*{words}"):
            c10v[key]
    with pytest.raises(NotHeld, match="train-all-time"):  # the authors' R_EA.py arithmetic: no None + None
        c10v["train-all-time"] + c10v["valid-per-time"]
    with pytest.raises(NotHeld, match="ori-test"):
        api.get_more_info(6111, "cifar100", hp="200", is_random=False)["valtest-accuracy"]
    with pytest.raises(KeyError):  # NotHeld is a KeyError; an unknown key stays a plain one
        c10v["no-such-key"]


def test_defaults_and_is_random_are_nas_201_apis(live, data):
    api = live["api"]
    with pytest.raises(NotHeld, match="hp='200'"):
        api.get_more_info(6111, "cifar100")  # nas_201_api's defaults: hp='12', is_random=True
    random.seed(7)
    drawn = [api.get_more_info(i, "cifar100", hp="200")["valid-accuracy"] for i in range(200)]
    random.seed(7)
    expected = [data["seeds"][(i, "cifar100")][random.choice(sorted(data["seeds"][(i, "cifar100")]))]
                for i in range(200)]
    assert drawn == expected and len(set(drawn)) > 150
    info = api.get_more_info(6111, "ImageNet16-120", hp=200, is_random=888)
    assert info["valid-accuracy"] == data["seeds"][(6111, "ImageNet16-120")][888]
    with pytest.raises(NotHeld, match="per-seed test accuracy.*is_random=False"):
        info["test-accuracy"]
    two_seeds = next(i for i in range(15_625) if len(data["seeds"][(i, "cifar100")]) == 2)
    with pytest.raises(ValueError, match="777, 888"):
        api.get_more_info(two_seeds, "cifar100", hp="200", is_random=999)
    with pytest.raises(NotHeld, match="seed-means only.*is_random=False"):
        api.get_more_info(6111, "cifar10", hp="200", is_random=True)
    with pytest.raises(NotHeld, match="last epoch only"):
        api.get_more_info(6111, "cifar100", iepoch=5, hp="200", is_random=False)
    with pytest.raises(ValueError, match="dataset"):
        api.get_more_info(6111, "cifar-10", hp="200")


def test_costs_latency_and_simulate_train_eval(live, data):
    api = live["api"]
    cost = data["costs"][(6111, "cifar100")]
    info = api.get_cost_info(6111, "cifar100", hp="200")
    assert info["latency"] == float(cost["latency"]) and info["params"] == float(cost["params_MB"])
    assert info["T-train@total"] == float(cost["train_all_time"]) and info["flops"] > 100
    with pytest.raises(NotHeld, match="evaluation times"):
        info["T-x-valid@epoch"]
    assert api.get_latency(6111, "ImageNet16-120", hp="200") == float(data["costs"][(6111, "ImageNet16-120")]["latency"])
    with pytest.raises(NotHeld, match="cifar10-valid"):
        api.get_latency(6111, "cifar10", hp="200")
    api.reset_time()
    random.seed(1)
    acc, latency, cost_s, used = api.simulate_train_eval(6111, "cifar10", hp="200")
    random.seed(1)
    seeds = data["seeds"][(6111, "cifar10-valid")]
    assert acc == seeds[random.choice(sorted(seeds))]  # cifar10 reads cifar10-valid, as nats_bench
    c10v = data["costs"][(6111, "cifar10-valid")]
    assert (latency, cost_s, used) == (float(c10v["latency"]), float(c10v["train_all_time"]), cost_s)
    api.simulate_train_eval(6111, "cifar100", hp="200")
    assert api.used_time == pytest.approx(cost_s + float(cost["train_all_time"]))
    api.reset_time()
    assert api.used_time == 0
    with pytest.raises(ValueError, match="cifar10-valid"):
        api.simulate_train_eval(6111, "cifar10-valid", hp="200")


def test_meta_info_find_best_statistics_and_the_space(live, data, capsys):
    api = live["api"]
    meta = api.query_meta_info_by_index(6111, hp="200")
    assert meta.arch_index == 6111 and meta.get_dataset_seeds("cifar100") == [777, 888, 999]
    assert meta.get_dataset_names() == ["cifar10-valid", "cifar10", "cifar100", "ImageNet16-120"]
    assert meta.get_metrics("cifar100", "x-test")["accuracy"] == float(data["original"][(6111, "cifar100")]["test_acc"])
    assert meta.get_metrics("cifar100", "x-valid", is_random=999)["accuracy"] == data["seeds"][(6111, "cifar100")][999]
    assert meta.get_compute_costs("cifar100")["latency"] == float(data["costs"][(6111, "cifar100")]["latency"])
    with pytest.raises(NotHeld):
        meta.get_metrics("cifar100", "train")["loss"]
    trials = api.query_by_index(6111, "ImageNet16-120", hp="200")
    assert sorted(trials) == [777, 888, 999]
    assert trials[888].get_eval("x-valid")["accuracy"] == data["seeds"][(6111, "ImageNet16-120")][888]
    with pytest.raises(NotHeld, match="hp='200'"):
        api.query_meta_info_by_index(6111)  # hp='12' by default, as nas_201_api: not published here
    valid = np.array([float(data["original"][(i, "cifar10-valid")]["valid_acc"]) for i in range(15_625)])
    assert api.find_best("cifar10", "valid", hp="200") == (int(np.argmax(valid)), valid.max())
    small = api.find_best("cifar100", "x-test", param_max=0.5, hp="200")
    params = np.array([float(data["costs"][(i, "cifar100")]["params_MB"]) for i in range(15_625)])
    test = np.array([float(data["original"][(i, "cifar100")]["test_acc"]) for i in range(15_625)])
    assert small == (int(np.argmax(np.where(params <= 0.5, test, -1))), test[params <= 0.5].max())
    assert api.statistics("cifar10-valid", "200") == {3: 8169, 2: 7456}  # as the data README counts
    assert len(api) == 15_625 and api[6111] == api.arch(6111) == data["original"][(6111, "cifar10")]["arch_str"]
    assert next(iter(api)) == data["original"][(0, "cifar10")]["arch_str"] and 0 <= api.random() < 15_625
    assert api.avaliable_hps == ["200"] and api.full_train_epochs == 200
    text = api.query_by_arch(api.arch(6111), "200")
    assert "arch-index=6111" in text and "94.37%" in text and api.query_info_str_by_arch("|bad|", "200") is None
    api.show(6111)
    assert "ImageNet16-120" in capsys.readouterr().out


def test_retrained_source_answers_the_same_calls(live):
    api = live["retrained"]
    index = retrained_cells()[10]
    seeds = retrained_seeds(index)
    last = {s: retrained_epoch(index, s, EPOCHS) for s in seeds}
    info = api.get_more_info(index, "cifar10-valid", None, hp="12", is_random=False)
    assert info["valid-accuracy"] == sum(last[s]["evals"]["valid"]["acc"] for s in seeds) / len(seeds)
    assert info["train-accuracy"] == sum(last[s]["train_acc"] for s in seeds) / len(seeds)
    times = {s: sum(retrained_epoch(index, s, e)["seconds"] for e in range(1, EPOCHS + 1)) for s in seeds}
    assert info["train-all-time"] == sum(times.values()) / len(seeds)
    assert info.provenance["seeds"] == list(seeds)
    one = api.get_more_info(index, "cifar10-valid", hp="12", is_random=seeds[-1])
    assert one["valid-loss"] == last[seeds[-1]]["evals"]["valid"]["loss"]
    at3 = api.get_more_info(index, "cifar10-valid", iepoch=3, hp="12", is_random=seeds[0])
    row = retrained_epoch(index, seeds[0], 4)
    assert at3["valid-accuracy"] == row["evals"]["valid"]["acc"] and at3["train-accuracy"] == row["train_acc"]
    assert at3["train-all-time"] == sum(retrained_epoch(index, seeds[0], e)["seconds"] for e in range(1, 5))
    with pytest.raises(NotHeld, match="train-all-time"):
        info["valid-per-time"]
    random.seed(3)  # BOHB.py's call: a budget in epochs, read at that epoch of one drawn seed
    acc, _, cost, _ = api.simulate_train_eval(index, "cifar10", iepoch=5, hp="12", account_time=False)
    random.seed(3)
    seed = random.choice(list(seeds))
    assert acc == retrained_epoch(index, seed, 6)["evals"]["valid"]["acc"]
    assert cost == sum(retrained_epoch(index, seed, e)["seconds"] for e in range(1, 7))
    positional = RebenchAPI(live["url"], RETRAINED_SOURCE)  # RebenchAPI(url, source)
    assert positional.get_more_info(index, "cifar10-valid", None, "12", False) == info
    with pytest.raises(NotHeld, match="hp='12'"):
        api.get_more_info(index, "cifar10-valid", hp="200", is_random=False)
    with pytest.raises(NotHeld, match="submit"):
        api.get_more_info(1, "cifar10-valid", hp="12", is_random=False)
    by_hp = api.with_source("arch-aware")  # no protocol: hp picks nb201-12
    assert by_hp.get_more_info(index, "cifar10-valid", hp="12", is_random=False) == info
    assert api.get_latency(index, "cifar10-valid", hp="12") == live["api"].get_latency(index, "cifar10-valid", "200")
    assert api.statistics("cifar10-valid", "12") == {1: sum(1 for i in retrained_cells() if len(retrained_seeds(i)) == 1),
                                                     2: sum(1 for i in retrained_cells() if len(retrained_seeds(i)) == 2)}
    assert api.find_best("cifar10-valid", "x-valid", hp="12")[0] in retrained_cells()
    with pytest.raises(ValueError, match="source="):
        RebenchAPI(live["url"], source="mu-p@nb201-12")


@pytest.mark.parametrize("algorithm", ["evolution", "random", "reinforce"])
@pytest.mark.parametrize("source", ["published", "retrained"])
def test_search_loops_match_the_csv_reference(live, reference, algorithm, source):
    published = reference
    if source == "published":
        api, ops, hp = live["api"], ("nor_conv_3x3", "nor_conv_1x1", "skip_connect", "avg_pool_3x3"), "200"
    else:
        numbers = {(i, "cifar10-valid"): {s: (retrained_epoch(i, s, EPOCHS)["evals"]["valid"]["acc"],
                                              sum(retrained_epoch(i, s, e)["seconds"] for e in range(1, EPOCHS + 1)))
                                          for s in retrained_seeds(i)} for i in retrained_cells()}
        api, ops, hp = live["retrained"], RETRAINED_OPS, "12"
        reference = Reference(numbers, published.latency, published.index_of)
    runs = {"evolution": lambda a: nas_search.regularized_evolution(a, "cifar10", ops, hp, cycles=60,
                                                                    population_size=10, sample_size=3),
            "random": lambda a: nas_search.random_search(a, "cifar10-valid", ops, hp,
                                                         time_budget=60_000 if hp == "200" else 1_500),
            "reinforce": lambda a: nas_search.reinforce(a, "cifar10", ops, hp,
                                                        time_budget=60_000 if hp == "200" else 1_500)}
    trajectories = []
    for target in (api, reference):
        random.seed(2024)
        trajectories.append(runs[algorithm](target))
    ours, theirs = trajectories
    assert ours == theirs
    assert len(ours) >= 20 and len({index for index, _, _ in ours}) >= 8


def test_bulk_reads_are_gzip_with_etags(live):
    url, api = live["url"], live["api"]
    with httpx.Client(base_url=url) as http:
        first = http.get("/v1/bulk/cifar100", params={"source": "nb201"})
        assert first.status_code == 200 and first.headers["content-encoding"] == "gzip"
        body = first.json()
        assert len(body["index"]) == 15_625 and body["seeds"] == [777, 888, 999]
        assert set(body["per_seed"]) == {"valid-accuracy"} and {"test-accuracy", "valid-accuracy"} <= set(body["mean"])
        again = http.get("/v1/bulk/cifar100", params={"source": "nb201"}, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        bad = http.get("/v1/bulk/cifar100", params={"source": "mu-p"})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "source"]
        retrained = http.get("/v1/bulk/cifar10-valid", params={"source": RETRAINED_SOURCE}).json()
        assert retrained["index"] == retrained_cells() and retrained["protocol"]["epochs"] == EPOCHS
    before = dict(api._tables)
    api.refresh()  # 304s: the same tables stay
    assert all(api._tables[key] is table for key, table in before.items())


def test_kendall_and_plots_show_nb201s_own_seed_noise_floor(live, data):
    api = live["api"]
    answer = api.kendall(dataset="cifar10-valid", a="nb201:valid", b="nb201:valid", k=[100])
    (floor,) = [f for f in answer["rows"][0]["noise_floor"]][:1]
    pair = next(p for p in floor["pairs"] if p["seeds"] == [777, 888])
    assert round(pair["tau"], 3) == 0.910 and pair["n"] == 15_625  # the data README's seed-to-seed tau
    both = [k for k, v in data["seeds"].items() if k[1] == "cifar100" and 999 in v]
    x = [data["seeds"][k][888] for k in both]
    y = [data["seeds"][k][999] for k in both]
    test = api.kendall(dataset="cifar100", a="nb201:test", b="nats-tss:test", k=[100])  # test: seed-means only
    floors = test["rows"][0]["noise_floor"]
    assert [(f["source"], f["split"]) for f in floors] == [("nb201", "x-valid")]
    pair = next(p for p in floors[0]["pairs"] if p["seeds"] == [888, 999])
    assert pair["tau"] == pytest.approx(kendalltau(x, y).statistic, abs=1e-9) and pair["n"] == len(both)
    retrained = api.kendall(dataset="cifar10-valid", a=f"{RETRAINED_SOURCE}:valid", b=f"{RETRAINED_SOURCE}:valid",
                            k=[100])  # no nb201 side: NB201's own seed noise over the same archs, beside theirs
    floors = {f["source"]: f for f in retrained["rows"][0]["noise_floor"]}
    assert set(floors) == {f"{RETRAINED_SOURCE}@v1/fp32", "nb201"} and floors["nb201"]["split"] == "valid"
    cells = retrained_cells()
    x = [data["seeds"][(i, "cifar10-valid")][777] for i in cells]
    y = [data["seeds"][(i, "cifar10-valid")][888] for i in cells]
    pair = next(p for p in floors["nb201"]["pairs"] if p["seeds"] == [777, 888])
    assert pair["n"] == len(cells) and pair["tau"] == pytest.approx(kendalltau(x, y).statistic, abs=1e-9)
    with httpx.Client(base_url=live["url"]) as http:
        page = http.get("/web/plots", params={"dataset": "cifar100", "a": "nb201", "b": "nats-tss"})
    assert page.status_code == 200 and "seed noise" in page.text and "nb201</code> x-valid" in page.text



@pytest.mark.slow
@pytest.mark.parametrize("live", ["sqlite"], indirect=True)  # one backend: the worker path is the same on both
def test_search_loops_on_tiny_real_runs(live, reference, tmp_path):
    """Real training (the embedded worker, a tiny net on tiny CIFAR-format data) of the 4 cells of a
    small space; the three loops then run unchanged on those runs and on a reference built from
    /v1/runs answers: identical trajectories."""
    import json
    import threading
    from itertools import product

    from service.settings import Settings
    from service.storage.keys import create_key
    from tests.archscale.training.conftest import write_cifar10
    from tests.worker.protocols import FAST, register
    from worker.embedded import run_embedded

    register()
    write_cifar10(tmp_path, per_batch=40, test=20)
    halves = {"train": ["int", [str(i) for i in range(0, 200, 2)]], "valid": ["int", [str(i) for i in range(1, 200, 2)]]}
    (tmp_path / "cifar-split.txt").write_text(json.dumps(halves))
    from archscale.base_lrs import BaseLREntry
    from service.storage.base_lrs import store_entry

    with live["db"].transaction() as session:
        key = create_key(session, "real-runs").secret
        # the test protocol has no searched base LR: submissions need one (else 409 no_base_lr)
        store_entry(session.connection(), BaseLREntry("cifar10-valid", "arch-aware", FAST.name, 0.46, "manual",
                                                      note="test protocol"))
    api = RebenchAPI(live["url"], api_key=key, source=f"arch-aware@{FAST.name}")
    space = (("nor_conv_3x3",),) * 4 + (RETRAINED_OPS,) * 2  # 4 cells: ~0.5 s of training each on a quiet CPU
    cells = [api.query_index_by_arch(nas_search.Genotype(ops)) for ops in product(*space)]
    accepted = [api.submit(index, dataset="cifar10-valid", seeds=[1]) for index in cells]
    settings = Settings(database_url=live["db"].url, data_root=tmp_path, cache_dir=tmp_path / "cache",
                        artifact_dir=tmp_path / "artifacts", device="cpu", heartbeat_s=0.5)
    stop = threading.Event()
    runner = threading.Thread(target=run_embedded, args=(settings, stop, 0.1), daemon=True)
    snapshots = live["app"].state.rebench.snapshots
    snapshots.stop()  # no read-model reload per finished run (seconds each, in this process): one at the end
    runner.start()
    try:
        runs = [api.wait(answer, poll_s=0.5, timeout_s=300)[0] for answer in accepted]
    finally:
        stop.set()
        runner.join(timeout=60)
        snapshots.refresh()
        snapshots.start()
    assert [r["status"] for r in runs] == ["succeeded"] * len(cells), [r.get("error") for r in runs]
    numbers = {}
    for index, run in zip(cells, runs):
        valid, seconds = run["result"]["metrics"]["valid"]["acc"], sum(row["seconds"] for row in run["curve"])
        numbers[(index, "cifar10-valid")] = {1: (valid, seconds)}
        info = api.get_more_info(index, "cifar10-valid", hp="12", is_random=False)
        assert (info["valid-accuracy"], info["train-all-time"]) == (valid, seconds)
        assert info["train-accuracy"] == run["result"]["metrics"]["train"]["acc"]
    real = Reference(numbers, reference.latency, reference.index_of)
    budget = 12 * sum(seconds for by_seed in numbers.values() for _, seconds in by_seed.values()) / len(cells)
    for search in (lambda a: nas_search.regularized_evolution(a, "cifar10", space, "12", 16, 4, 2),
                   lambda a: nas_search.random_search(a, "cifar10-valid", space, "12", budget),
                   lambda a: nas_search.reinforce(a, "cifar10", space, "12", budget)):
        trajectories = []
        for target in (api, real):
            random.seed(5)
            trajectories.append(search(target))
        assert trajectories[0] == trajectories[1] and len(trajectories[0]) >= 10

# --- the importer (runs last: it re-imports into the live database) ------------------------------
def _counts(db) -> tuple[int, int, int]:
    import sqlalchemy as sa

    with db.engine.connect() as conn:
        return (conn.execute(sa.text("SELECT count(*) FROM original_results WHERE aggregation = 'seed'")).scalar_one(),
                conn.execute(sa.text("SELECT count(*) FROM original_costs")).scalar_one(),
                conn.execute(sa.text("SELECT count(*) FROM result_imports")).scalar_one())


def _write(path, lines: list[str]):
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("live", ["postgres"], indirect=True)  # a rolled-back transaction, on the production backend
def test_bad_files_name_the_fault_and_change_nothing(live, tmp_path):
    from service.storage.errors import InvalidField
    from service.storage.nb201_seeds import import_nb201_csv

    db = live["db"]
    before = _counts(db)
    assert before[:2] == (118_257, 46_875)
    perseed = gzip.open(data_dir() / "nb201_tss_hp200_perseed_valid.csv.gz", "rt").read().splitlines()
    cost = gzip.open(data_dir() / "nb201_tss_hp200_cost.csv.gz", "rt").read().splitlines()

    def shifted(lines: list[str]) -> list[str]:  # NB201's numbers under the next arch's index
        return [lines[0]] + [f"{(int(line.split(',', 1)[0]) + 1) % 15_625},{line.split(',', 1)[1]}"
                             for line in lines[1:]]

    bad_value = perseed[:4] + [perseed[4].rsplit(",", 1)[0] + ",n/a"] + perseed[5:]
    bad_seeds = cost[:3] + [cost[3].rsplit(",", 1)[0] + ",777 888"] + cost[4:]
    cases = [(perseed[:1000], "arch x setting groups, expected 46875"),
             (bad_value, "line 5: valid_acc = 'n/a' is not a number"),
             (shifted(perseed), "another index order"),
             (shifted(cost), "another index order"),
             (bad_seeds, "line 4: orig_csv_valid_seeds"),
             (["arch_index,dataset,epochs,seed,n_seeds,valid_acc", "0,cifar10,200,777,3,90.0"], "dataset 'cifar10'")]
    for number, (lines, message) in enumerate(cases):
        path = _write(tmp_path / f"bad{number}.csv.gz", lines)
        with pytest.raises(InvalidField, match=message), db.engine.begin() as conn:
            import_nb201_csv(conn, path)
    raw = (data_dir() / "nb201_tss_hp200_cost.csv.gz").read_bytes()
    truncated = tmp_path / "truncated.csv.gz"
    truncated.write_bytes(raw[: len(raw) // 2])  # a copy cut short: valid header, no end-of-stream
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes(b"arch_index,dataset,epochs,seed,n_seeds,valid_acc\n0,cifar10-valid,200,777,3,9\xe9\n")
    for path in (truncated, latin1):
        with pytest.raises(InvalidField, match=rf"{path.name}: .*(file is truncated|is not UTF-8 text)"), \
                db.engine.begin() as conn:
            import_nb201_csv(conn, path)
    assert _counts(db) == before  # one transaction each: nothing half-written


@pytest.mark.parametrize("live", ["sqlite"], indirect=True)
def test_reimport_is_idempotent(live, data):
    from service.storage.nb201_seeds import import_nb201_csv

    db = live["db"]
    before = _counts(db)
    for name in ("nb201_tss_hp200_perseed_valid.csv.gz", "nb201_tss_hp200_cost.csv.gz"):
        with db.engine.begin() as conn:
            report = import_nb201_csv(conn, data_dir() / name)
        assert list(report.rows.values()) == [{"nb201_tss_hp200_perseed_valid.csv.gz": 118_257}.get(name, 46_875)]
    assert _counts(db) == before
    live["app"].state.rebench.snapshots.refresh()
    api = RebenchAPI(live["url"])
    assert api.get_more_info(6111, "cifar100", hp="200", is_random=777)["valid-accuracy"] == \
        data["seeds"][(6111, "cifar100")][777]


def test_cli_refuses_per_seed_numbers_before_the_published_means(tmp_path):
    from typer.testing import CliRunner

    from service.cli import app

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    for name, first in (("nb201_tss_hp200_perseed_valid.csv.gz", "import nb201_original.csv.gz first"),
                        ("nb201_tss_hp200_cost.csv.gz", "import nb201_tss_hp200_perseed_valid.csv.gz first")):
        result = CliRunner().invoke(app, ["import-nb201", str(data_dir() / name), "--database-url", url])
        assert result.exit_code == 2 and first in result.output, result.output

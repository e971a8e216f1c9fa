"""GET /v1/archs, /v1/leaderboard, /v1/rankings/kendall against the real imported numbers and
re-scaled results written through the storage API (both backends)."""

from __future__ import annotations

import csv
import gzip
import io
import math
from urllib.parse import quote

import numpy as np
import pytest
from scipy.stats import kendalltau

from archscale.space import cell_at, format_arch
from service.storage.runs import RunSpec, create_runs

from .conftest import finish_run, wipe_runs

SEEDS = (777, 888, 999)
ARCHS = list(range(0, 15_625, 250))  # 63 cells get re-scaled results


def rescaled_value(index: int, seed: int) -> float:
    """Deterministic fake accuracies with seed noise, so the expected answers can be computed."""
    return round(50 + 40 * math.sin(index) ** 2 + (seed - 888) / 50 + (index % 7) / 10, 3)


@pytest.fixture(scope="module")
def rescaled(api, nb201_csv):
    """Succeeded smoke-protocol runs for ARCHS x SEEDS on cifar10, written like a worker would."""
    wipe_runs(api.db)
    with api.db.transaction() as session:
        created = create_runs(session, [RunSpec.resolve(i, "cifar10", "standard", "smoke", s)
                                        for i in ARCHS for s in SEEDS])
    for run, (index, seed) in zip(created, [(i, s) for i in ARCHS for s in SEEDS]):
        finish_run(api.db, run.id, {"test": {"acc": rescaled_value(index, seed)}, "train": {"acc": 99.0}})
    api.refresh()
    originals = {}
    with gzip.open(nb201_csv, "rt") as handle:
        for row in csv.DictReader(handle):
            originals[(int(row["arch_index"]), row["dataset"])] = row
    return originals


SOURCE = "standard@smoke"


def test_arch_lookup_by_index_and_string(api, rescaled):
    by_index = api.get("/v1/archs/6111")
    by_string = api.get("/v1/archs/" + quote(format_arch(cell_at(6111)), safe=""))
    assert by_index.status_code == by_string.status_code == 200
    assert by_index.json() == by_string.json()
    arch = by_index.json()
    assert arch["sum_l3"] == 119 and arch["num_paths"] == 4 and not arch["degenerate"]
    c10 = arch["datasets"]["cifar10"]
    assert c10["params"] == 1_073_466 and c10["lr"] == pytest.approx(0.46 / math.sqrt(119))
    assert {m["edge"] for m in arch["init"]["multipliers"]} == {"0->1", "0->2", "1->2", "1->3", "2->3"}
    original = {(n["source"], n["split"]): n for n in c10["original"]}
    assert original[("nb201", "test")]["value"] == pytest.approx(float(rescaled[(6111, "cifar10")]["test_acc"]))
    nb201 = arch["sources"]["nb201"]
    assert nb201["kind"] == "original" and nb201["aggregation"].startswith("seed-mean")
    assert nb201["protocol"]["key"].startswith("nb201-200@") and "LAPT" in nb201["provenance"]
    assert original[("nb201", "test")]["n"] == 0 and original[("nb201", "test")]["seeds"] == []
    assert original[("nats-tss", "test")]["value"] == pytest.approx(
        float(rescaled[(6111, "cifar10")]["test_acc_nats_tss"]))
    assert c10["rescaled"] == []  # 6111 is not among the re-scaled archs
    ci100 = api.get("/v1/archs/6111", params={"dataset": "cifar100"}).json()["datasets"]
    assert list(ci100) == ["cifar100"] and ci100["cifar100"]["lr"] is None  # no base LR known yet
    assert "rebench base-lr" in ci100["cifar100"]["lr_note"]


def test_arch_lookup_states_rescaled_seeds_and_aggregation(api, rescaled):
    arch = api.get("/v1/archs/250", params={"dataset": "cifar10"}).json()
    number = arch["datasets"]["cifar10"]["rescaled"]
    tests = [n for n in number if n["split"] == "test"]
    assert len(tests) == 1
    n = tests[0]
    values = [rescaled_value(250, s) for s in SEEDS]
    assert n["seeds"] == list(SEEDS) and n["n"] == 3 and n["per_seed"] == {str(s): v for s, v in zip(SEEDS, values)}
    assert n["value"] == pytest.approx(np.mean(values)) and n["std"] == pytest.approx(np.std(values, ddof=1))
    source = arch["sources"][n["source"]]
    assert source["scaling"] == "standard" and source["protocol"]["name"] == "smoke"
    assert not source["protocol"]["benchmark"] and "sample std" in source["aggregation"]
    assert source["precision"] == "fp32" and n["source"].endswith("/fp32")
    assert all(x["split"] != "train" for x in number)  # train accuracy is in the run, not the rankings


def test_leaderboard_ranks_and_rank_change(api, rescaled):
    page = api.get("/v1/leaderboard", params={"dataset": "cifar10", "scaling": "standard", "protocol": "smoke",
                                              "has_results": True, "limit": 100})
    assert page.status_code == 200, page.text
    data = page.json()
    assert data["total"] == len(ARCHS) == data["n_common"] and data["rescaled"]["seeds"] == list(SEEDS)
    assert data["original"]["source"] == "nb201" and data["split"] == "test"
    means = {i: np.mean([rescaled_value(i, s) for s in SEEDS]) for i in ARCHS}
    expected_order = sorted(ARCHS, key=lambda i: (-means[i], i))
    assert [r["index"] for r in data["rows"]] == expected_order
    orig = {i: float(rescaled[(i, "cifar10")]["test_acc"]) for i in ARCHS}
    for row in data["rows"]:
        i = row["index"]
        assert row["rescaled_rank"] == 1 + sum(m > means[i] for m in means.values())
        common_rank_orig = 1 + sum(v > orig[i] for v in orig.values())
        assert row["rank_change"] == common_rank_orig - row["rescaled_rank"]
        assert row["rescaled_n"] == 3
    # one rank basis (the archs with both numbers): every row adds up
    assert data["rank_basis"] == "both"
    for row in data["rows"]:
        assert row["original_rank"] == 1 + sum(v > orig[row["index"]] for v in orig.values())
        assert row["rank_change"] == row["original_rank"] - row["rescaled_rank"]
    outside = api.get("/v1/leaderboard", params={"dataset": "cifar10", "scaling": "standard", "protocol": "smoke",
                                                 "has_results": False, "limit": 1}).json()["rows"][0]
    assert outside["original_rank"] is None and outside["rank_change"] is None
    alone = api.get("/v1/leaderboard", params={"dataset": "cifar10", "scaling": "mup", "sort": "original",
                                               "limit": 2}).json()
    assert alone["rank_basis"] == "each" and alone["rows"][0]["original_rank"] == 1  # among all published
    assert alone["rows"][1]["original_rank"] in (1, 2) and alone["rows"][1]["rank_change"] is None


def test_leaderboard_filters_paging_and_csv(api, rescaled):
    params = {"dataset": "cifar10", "sort": "original", "ops": ["nor_conv_3x3"], "exclude_ops": ["none"],
              "params_min": 500_000, "limit": 5, "offset": 5}
    data = api.get("/v1/leaderboard", params=params).json()
    assert data["limit"] == 5 and data["offset"] == 5 and len(data["rows"]) == 5
    originals = [r["original"] for r in data["rows"]]
    assert originals == sorted(originals, reverse=True)
    for row in data["rows"]:
        ops = cell_at(row["index"]).ops
        assert "nor_conv_3x3" in ops and "none" not in ops and row["params"] >= 500_000
    unpaged = {k: v for k, v in params.items() if k not in ("limit", "offset")}
    export = api.get("/v1/leaderboard", params={**unpaged, "format": "csv"})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert export.headers["x-rebench-original"].startswith("original: source=nb201")
    assert "split=test" in export.headers["x-rebench-original"]
    assert not export.text.startswith("#")  # plain CSV: pandas.read_csv reads it as it is
    import pandas as pd

    frame = pd.read_csv(io.StringIO(export.text))
    assert list(frame.columns)[:3] == ["index", "arch_str", "original"] and len(frame) == data["total"]
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert len(rows) == data["total"] and [int(r["index"]) for r in rows[5:10]] == [r["index"] for r in data["rows"]]
    without = api.get("/v1/leaderboard", params={"scaling": "standard", "protocol": "smoke", "has_results": False,
                                                 "limit": 1}).json()
    assert without["total"] == 15_625 - len(ARCHS)


def _expected_kendall(x: np.ndarray, y: np.ndarray, k: float, by: str) -> tuple[float, int]:
    n = len(x)
    m = math.ceil(k / 100 * n)
    top = lambda v: set(np.lexsort((np.arange(n), -v))[:m].tolist())  # noqa: E731
    chosen = sorted(top(x) if by == "a" else top(y) if by == "b" else top(x) | top(y))
    return kendalltau(x[chosen], y[chosen]).statistic, len(chosen)


@pytest.mark.parametrize("select_by", ["original", "rescaled", "union"])
def test_kendall_between_two_original_sources_matches_scipy(api, rescaled, select_by):
    response = api.get("/v1/rankings/kendall", params={"dataset": "cifar100", "a": "nb201:valid", "b": "nb201:test",
                                                       "k": [100, 10, 1], "select_by": select_by})
    assert response.status_code == 200, response.text
    data = response.json()
    x = np.array([float(rescaled[(i, "cifar100")]["valid_acc"]) for i in range(15_625)])
    y = np.array([float(rescaled[(i, "cifar100")]["test_acc"]) for i in range(15_625)])
    by = {"original": "a", "rescaled": "b"}.get(select_by, select_by)
    assert data["n_common"] == 15_625 and data["select_by"] == by and data["variant"] == "tau-b"
    assert data["a"]["split"] == "x-valid" and data["b"]["split"] == "x-test"
    for row in data["rows"]:
        tau, n = _expected_kendall(x, y, row["k"], by)
        assert row["n"] == n and row["tau"] == pytest.approx(tau, abs=1e-12)
        assert row["noise_floor"] == []  # published means: no per-seed numbers


def test_kendall_rescaled_with_seed_noise_floor(api, rescaled):
    data = api.get("/v1/rankings/kendall", params={"dataset": "cifar10", "a": "nb201", "b": SOURCE,
                                                   "k": [100, 50]}).json()
    assert data["n_common"] == len(ARCHS) and data["b"]["seeds"] == list(SEEDS)
    row = data["rows"][0]
    x = np.array([float(rescaled[(i, "cifar10")]["test_acc"]) for i in ARCHS])
    y = np.array([np.mean([rescaled_value(i, s) for s in SEEDS]) for i in ARCHS])
    assert row["tau"] == pytest.approx(kendalltau(x, y).statistic)
    (floor,) = row["noise_floor"]
    assert floor["source"] == "standard@smoke@v" + data["b"]["protocol"]["key"].split("@v")[1] + "/fp32"
    pairs = {tuple(p["seeds"]): p for p in floor["pairs"]}
    assert set(pairs) == {(777, 888), (777, 999), (888, 999)}
    expected = kendalltau([rescaled_value(i, 777) for i in ARCHS], [rescaled_value(i, 888) for i in ARCHS]).statistic
    assert pairs[(777, 888)]["tau"] == pytest.approx(expected) and pairs[(777, 888)]["n"] == len(ARCHS)
    tau_c = api.get("/v1/rankings/kendall", params={"dataset": "cifar10", "b": SOURCE, "k": [100],
                                                    "variant": "c"}).json()["rows"][0]["tau"]
    assert tau_c == pytest.approx(kendalltau(x, y, variant="c").statistic)


def test_new_results_invalidate_the_cached_rankings(api, rescaled):
    params = {"dataset": "cifar10", "a": "nb201", "b": "mup@smoke", "k": [100]}
    before = api.get("/v1/rankings/kendall", params=params).json()
    assert before["n_common"] == 0 and before["rows"][0]["tau"] is None
    with api.db.transaction() as session:
        runs = create_runs(session, [RunSpec.resolve(i, "cifar10", "mup", "smoke", 1) for i in (0, 1, 2)])
    for run, value in zip(runs, (10.0, 20.0, 30.0)):
        finish_run(api.db, run.id, {"test": {"acc": value}})
    api.refresh()
    after = api.get("/v1/rankings/kendall", params=params).json()
    assert after["n_common"] == 3 and after["rows"][0]["n"] == 3

"""What a newcomer sees first: defaults that show numbers that exist (and say which), /web,
the rows-per-page selector, and answers that say why there is nothing to compare."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from service.api.rankings import kendall_rows
from service.api.sources import empty_series
from service.storage.database import Database
from service.storage.readmodel import SeriesKey
from service.web.defaults import busiest_rescaled
from tests.service.conftest import Api

from .seed import PROTOCOL

pytestmark = pytest.mark.postgres


def rows(html: str) -> list[tuple[str, str]]:
    """(data-original, data-rescaled) of the leaderboard rows, in page order."""
    return re.findall(r'<tr data-index="\d+" data-arch="[^"]+" data-original="([^"]*)" data-rescaled="([^"]*)"', html)


def test_web_redirects_to_the_leaderboard(web_api: Api) -> None:
    for path in ("/web", "/web/"):
        response = web_api.client.get(path, follow_redirects=False)
        assert response.status_code == 307 and response.headers["location"] == "/web/leaderboard"
    assert web_api.get("/web").headers["content-type"].startswith("text/html")


def test_landing_shows_the_setting_with_the_most_rescaled_results(web_api: Api) -> None:
    snapshot = web_api.app.state.rebench.snapshots.get()
    busiest = busiest_rescaled(snapshot)
    assert busiest is not None and busiest.key.origin.startswith(f"arch-aware@{PROTOCOL}@")
    html = web_api.get("/").text  # / -> /web/leaderboard, no parameters
    assert 'id="default-note"' in html and busiest.key.origin in html and f"{busiest.count} architecture" in html
    shown = rows(html)
    rescaled = [float(r) for _, r in shown]  # every row has a re-scaled number
    assert len(rescaled) == min(50, busiest.count) and rescaled == sorted(rescaled, reverse=True)  # best first
    assert f"<option selected>{PROTOCOL}</option>" in html
    # any parameter in the URL is the user's choice: no default then
    assert 'id="default-note"' not in web_api.get("/web/leaderboard?protocol=nb201-200").text


def test_plots_default_shows_points(web_api: Api) -> None:
    html = web_api.get("/web/plots").text
    assert 'id="default-note"' in html
    n_points = int(re.search(r"<b>(\d+)</b> architectures with both numbers", html).group(1))
    assert n_points >= 10 and 'id="nothing-to-compare"' not in html


def test_per_page_selector_shows_the_actual_page_size(web_api: Api) -> None:
    html = web_api.get("/web/leaderboard?protocol=smoke&per_page=20").text
    assert "<option selected>20</option>" in html and len(rows(html)) == 20
    assert "<option selected>25</option>" not in html


@pytest.fixture(scope="module")
def published_only(tmp_path_factory: pytest.TempPathFactory, nb201_csv: Path) -> Iterator[Api]:
    from service.storage.originals import import_csv

    db = Database(f"sqlite:///{tmp_path_factory.mktemp('published') / 'only.db'}")
    db.init()
    with db.engine.begin() as conn:
        import_csv(conn, nb201_csv)
    api = Api(db)
    with api.client:
        yield api
    db.dispose()


def test_without_rescaled_results_the_landing_shows_published_numbers_best_first(published_only: Api) -> None:
    html = published_only.get("/").text
    assert "No re-scaled results yet" in html
    originals = [float(o) for o, _ in rows(html)]
    assert len(originals) == 50 and originals == sorted(originals, reverse=True)
    assert originals[0] > 94  # the best published CIFAR-10 cells, not arch 0
    plots = published_only.get("/web/plots").text
    assert "No re-scaled results yet" in plots and 'id="nothing-to-compare"' not in plots


def test_kendall_with_nothing_to_compare_says_which_source_is_empty(published_only: Api) -> None:
    body = published_only.get("/v1/rankings/kendall?dataset=cifar10&a=nb201&b=mup@smoke&k=100").json()
    assert body["n_common"] == 0 and body["rows"][0]["tau"] is None
    assert body["reason"].startswith("b (mup@smoke@v2/fp32) has no numbers for cifar10, split test")
    fine = published_only.get("/v1/rankings/kendall?dataset=cifar100&a=nb201:valid&b=nb201:test&k=100").json()
    assert fine["reason"] is None and fine["rows"][0]["tau"] is not None
    page = published_only.get("/web/plots?dataset=cifar10&a=nb201&b=mup@smoke").text
    assert 'id="nothing-to-compare"' in page and "has no numbers for cifar10" in page


def test_a_noise_floor_without_pairs_says_why() -> None:
    """Seeds 1 and 777 never measured on the same arch: no τ, and the answer says so (was
    "– (1 seed pairs)")."""
    key = SeriesKey("arch-aware@smoke@v2/fp32", "cifar10", "test")
    base = empty_series(key)
    per_seed = np.full((len(base.mean), 2), np.nan)
    per_seed[:5, 0] = np.arange(5.0)
    per_seed[5:10, 1] = np.arange(5.0)
    mean = per_seed[:, 0].copy()
    mean[5:10] = per_seed[5:10, 1]
    b = dataclasses.replace(base, seeds=(1, 777), per_seed=per_seed, mean=mean, n=(~np.isnan(per_seed)).sum(1))
    a = dataclasses.replace(empty_series(SeriesKey("nb201", "cifar10", "test")), mean=np.arange(len(mean), dtype=float))
    _, out = kendall_rows(a, b, (100.0,), "a", "b")
    floor = out[0]["noise_floor"][0]
    assert floor["mean_tau"] is None and floor["pairs"][0]["n"] == 0
    assert "no seed pair" in floor["reason"] and "both seeds" in floor["reason"]

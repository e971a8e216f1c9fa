"""The pages in a real headless Chromium (Debian ``chromium`` driven by Playwright).

The real app is served by uvicorn in a background thread against the web tests' PostgreSQL
database. Screenshots go to ``test-artifacts/screenshots/``. Without /usr/bin/chromium or
the playwright package the test skips, unless REBENCH_REQUIRE_BROWSER=1 (CI): then it fails.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.service.conftest import serve_app, settings_for

from .seed import PROTOCOL, set_progress

pytestmark = pytest.mark.postgres
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = ROOT / "test-artifacts" / "screenshots"


def _need(condition: bool, reason: str) -> None:
    if condition:
        return
    if os.environ.get("REBENCH_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (REBENCH_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    _need(CHROMIUM.exists(), f"{CHROMIUM} not found: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need(False, "playwright is not installed: pip install 'playwright>=1.50' (never `playwright install`)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(web_data) -> Iterator[str]:
    from service.api import create_app

    with serve_app(create_app(settings_for(web_data.db))) as url:
        yield url


@pytest.fixture
def page(browser, server):
    context = browser.new_context(base_url=server, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def table_rows(page) -> list[dict[str, str]]:
    return page.eval_on_selector_all("#leaderboard tbody tr[data-index]", """rows => rows.map(r => ({
        index: r.dataset.index, arch: r.dataset.arch, original: r.dataset.original, rescaled: r.dataset.rescaled}))""")


def test_leaderboard_sort_filter_paginate_export(page):
    page.goto(f"/web/leaderboard?protocol={PROTOCOL}")
    first = table_rows(page)
    assert len(first) == 50
    rescaled = [float(r["rescaled"]) for r in first if r["rescaled"]]
    assert len(rescaled) > 10 and rescaled == sorted(rescaled, reverse=True)  # default: re-scaled, best first
    shot(page, "leaderboard")

    page.click('th a.sort[data-sort="original"]')
    page.wait_for_url("**sort=original**")
    by_original = table_rows(page)
    values = [float(r["original"]) for r in by_original]
    assert values == sorted(values, reverse=True) and by_original != first
    page.click('th a.sort[data-sort="original"]')  # again: ascending
    page.wait_for_url("**order=asc**")
    values = [float(r["original"]) for r in table_rows(page)]
    assert values == sorted(values) and values[0] < float(by_original[-1]["original"])  # the worst cells now

    params_head = page.locator("#leaderboard thead th", has_text="Params")  # sorted in the page by app.js
    params_head.click()
    params = page.eval_on_selector_all("#leaderboard tbody tr[data-index]", "rows => rows.map(r => +r.dataset.params)")
    assert params == sorted(params, reverse=True) and len(set(params)) > 1
    params_head.click()
    params = page.eval_on_selector_all("#leaderboard tbody tr[data-index]", "rows => rows.map(r => +r.dataset.params)")
    assert params == sorted(params)

    page.check('input[name="ops"][value="avg_pool_3x3"]')
    page.check('input[name="exclude_ops"][value="nor_conv_3x3"]')
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**ops=avg_pool_3x3**")
    filtered = table_rows(page)
    assert filtered and all("avg_pool_3x3" in r["arch"] and "nor_conv_3x3" not in r["arch"] for r in filtered)
    shot(page, "leaderboard-filtered")

    page.click("a[rel=next]")
    page.wait_for_url("**page=2**")
    second = table_rows(page)
    assert second and not {r["index"] for r in second} & {r["index"] for r in filtered}
    assert all("avg_pool_3x3" in r["arch"] and "nor_conv_3x3" not in r["arch"] for r in second)  # filters kept
    assert "page 2 of" in page.inner_text("nav.pager")

    csv_url = page.get_attribute("#export-csv", "href")
    response = page.request.get(csv_url)
    assert response.ok and response.headers["content-type"].startswith("text/csv")
    exported = list(csv.DictReader(io.StringIO(response.text())))
    assert [(r["index"], r["arch_str"]) for r in exported] == [(r["index"], r["arch"]) for r in second]


def test_arch_page_from_a_leaderboard_click(page):
    page.goto(f"/web/leaderboard?protocol={PROTOCOL}&has_results=true")
    first = table_rows(page)[0]
    page.click(f'#leaderboard tr[data-index="{first["index"]}"] a.arch-link')
    page.wait_for_url(f"**/web/archs/{first['index']}")
    assert page.inner_text("h1") == f"Architecture {first['index']}"
    graph = page.locator("svg.cell-graph")
    assert graph.is_visible() and graph.locator("text.edge-label").count() == 6
    assert graph.locator("g.node").count() == 4
    box = graph.bounding_box()
    assert box["width"] > 300 and box["height"] > 100
    curves = page.locator("figure.curve svg")
    assert curves.count() >= 2 and curves.first.locator("g.series polyline").count() >= 3
    assert page.locator("#per-dataset").inner_text().count("re-scaled") >= 1
    shot(page, "arch")


def test_plots_page_renders_scatter_and_kendall_band(page, web_data):
    page.goto(f"/web/plots?dataset=cifar10&a=nb201&b=arch-aware@{PROTOCOL}")
    scatter = page.locator("#scatter svg")
    n = len(web_data.seeded.archs)
    assert scatter.locator("circle.pt").count() == n and n > 0
    assert scatter.bounding_box()["width"] > 300
    dot = scatter.locator("circle.pt").first.bounding_box()
    assert dot["width"] > 0 and dot["height"] > 0  # drawn, not collapsed
    kendall = page.locator("#kendall svg")
    band = kendall.locator("polygon.band")
    assert band.count() == 1 and band.bounding_box()["height"] > 0
    assert kendall.locator("g.series circle").count() >= 5
    shot(page, "plots")


def test_queue_page_updates_live(page, web_data):
    run = web_data.seeded.running_run
    set_progress(web_data.db, run, 1)
    page.goto("/web/queue")
    cell = page.locator(f'#queue tr[data-run="{run}"] .progress-text')
    assert cell.inner_text() == "1/4"
    shot(page, "queue-before")
    set_progress(web_data.db, run, 3)
    page.wait_for_function(f"""() => {{
        const el = document.querySelector('#queue tr[data-run="{run}"] .progress-text');
        return el && el.textContent === '3/4';
    }}""", timeout=10_000)
    width = page.locator(f'#queue tr[data-run="{run}"] .bar > span').evaluate("e => e.style.width")
    assert float(width.rstrip("%")) == 75.0
    shot(page, "queue-after")

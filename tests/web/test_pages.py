"""The HTML routes and GET /v1/runs on the real app against PostgreSQL (TestClient)."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from archscale.space import cell_at

from .seed import PROTOCOL, SEEDS

pytestmark = pytest.mark.postgres
SMOKE = f"protocol={PROTOCOL}"
ROW = re.compile(r'<tr data-index="(\d+)" data-arch="([^"]*)"')


def rows(page: str) -> list[tuple[int, str]]:
    return [(int(i), html.unescape(a)) for i, a in ROW.findall(page)]


def href(page: str, element_id: str) -> str:
    return html.unescape(re.search(rf'id="{element_id}" href="([^"]*)"', page).group(1))


def test_root_redirects_to_the_leaderboard(web_api):
    response = web_api.client.get("/", follow_redirects=False)
    assert response.status_code == 307 and response.headers["location"] == "/web/leaderboard"


def test_leaderboard_shows_the_same_rows_as_the_api(web_api):
    page = web_api.get(f"/web/leaderboard?{SMOKE}&sort=rescaled&per_page=25")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    api = web_api.get(f"/v1/leaderboard?{SMOKE}&sort=rescaled&limit=25").json()
    assert [i for i, _ in rows(page.text)] == [r["index"] for r in api["rows"]]
    assert api["rows"][0]["rescaled"] is not None and f'<b id="total">{api["total"]}</b>' in page.text


def test_export_links_carry_the_view_and_return_its_rows(web_api):
    page = web_api.get(f"/web/leaderboard?{SMOKE}&has_results=true&sort=original&order=asc&page=2&per_page=10")
    shown = rows(page.text)
    assert len(shown) == 10
    csv_url, json_url = href(page.text, "export-csv"), href(page.text, "export-json")
    query = parse_qs(urlsplit(csv_url).query)
    assert urlsplit(csv_url).path == "/v1/leaderboard"
    assert query["format"] == ["csv"] and query["limit"] == ["10"] and query["offset"] == ["10"]
    assert query["sort"] == ["original"] and query["order"] == ["asc"] and query["has_results"] == ["true"]
    csv = web_api.get(csv_url)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    data = [line.split(",") for line in csv.text.splitlines() if not line.startswith("#")][1:]
    assert [(int(r[0]), r[1]) for r in data] == shown
    assert [r["index"] for r in web_api.get(json_url).json()["rows"]] == [i for i, _ in shown]


def test_filters_by_op_and_pages(web_api):
    kept = rows(web_api.get("/web/leaderboard?ops=avg_pool_3x3&ops=skip_connect&per_page=100").text)
    assert len(kept) == 100 and all("avg_pool_3x3" in a and "skip_connect" in a for _, a in kept)
    dropped = rows(web_api.get("/web/leaderboard?exclude_ops=nor_conv_3x3&exclude_ops=none").text)
    assert dropped and not any("nor_conv_3x3" in a or "none~" in a for _, a in dropped)
    first = rows(web_api.get("/web/leaderboard?sort=original").text)
    second = rows(web_api.get("/web/leaderboard?sort=original&page=2").text)
    assert len(first) == len(second) == 50 and not set(first) & set(second)
    empty_fields = web_api.get("/web/leaderboard?params_min=&params_max=&has_results=&sort=original")
    assert empty_fields.status_code == 200 and rows(empty_fields.text) == first  # blank form fields: no filter


@pytest.mark.parametrize(("query", "field", "fix"), [
    ("params_min=abc", "params_min", "valid integer"),
    ("params_min=10&params_max=5", "params_min", "swap them"),
    ("ops=conv", "ops", "nor_conv_3x3"),
    ("page=0", "page", "greater than or equal to 1"),
    ("protocol=nope", "protocol", "use one of"),
    ("bogus=1", "bogus", "unknown field"),
])
def test_bad_leaderboard_values_render_the_api_message(web_api, query, field, fix):
    response = web_api.get(f"/web/leaderboard?{query}")
    assert response.status_code == 422 and response.headers["content-type"].startswith("text/html")
    box = html.unescape(response.text)
    assert 'class="error-box"' in box and field in box and fix in box and "Traceback" not in box


def test_arch_page_shows_graph_numbers_seeds_curves_and_fingerprints(web_api, web_data):
    index = web_data.seeded.archs[0]
    page = web_api.get(f"/web/archs/{index}")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert text.count('class="edge-label"') == 6 and text.count('class="node"') == 4
    assert cell_at(index).ops[0] in text and "Σ" in text
    api = web_api.get(f"/v1/archs/{index}?dataset=cifar10").json()["datasets"]["cifar10"]
    (rescaled,) = api["rescaled"]
    assert f"{rescaled['value']:.2f}" in text and f"{api['original'][0]['value']:.2f}" in text
    for seed in SEEDS:
        assert f"{seed}: {rescaled['per_seed'][str(seed)]:.2f}" in text
    assert 'class="curve"' in text and text.count('class="series"') >= 2 * len(SEEDS)
    assert re.search(r'<code class="fp" title="[0-9a-f]{64}">', text)  # a result fingerprint
    by_string = web_api.get(f"/web/archs/{cell_at(index)}")
    assert by_string.status_code == 200 and f"Architecture {index}" in by_string.text


@pytest.mark.parametrize(("arch", "status", "fix"), [
    ("99999", 404, "use an index 0..15624"), ("|conv~0|", 422, "nor_conv"), ("²", 422, "ASCII digits")])
def test_bad_arch_renders_an_error_box(web_api, arch, status, fix):
    response = web_api.get(f"/web/archs/{arch}")
    assert response.status_code == status and 'class="error-box"' in response.text
    assert fix in html.unescape(response.text)


def test_plots_page_draws_one_dot_per_arch_and_the_noise_band(web_api, web_data):
    page = web_api.get(f"/web/plots?dataset=cifar10&a=nb201&b=arch-aware@{PROTOCOL}")
    assert page.status_code == 200
    assert page.text.count('class="pt"') == len(web_data.seeded.archs)
    assert 'class="identity"' in page.text and '<polygon class="band"' in page.text
    kendall = web_api.get(f"/v1/rankings/kendall?dataset=cifar10&a=nb201&b=arch-aware@{PROTOCOL}&k=100").json()
    assert f"{kendall['rows'][0]['tau']:.3f}" in page.text
    bad = web_api.get("/web/plots?b=nope")
    assert bad.status_code == 422 and "unknown result source" in html.unescape(bad.text)


def test_queue_page_and_runs_endpoint(web_api, web_data):
    seeded = web_data.seeded
    page = web_api.get("/web/queue")
    assert page.status_code == 200 and f'data-run="{seeded.running_run}"' in page.text
    listed = web_api.get("/v1/runs?limit=5").json()
    assert [r["status"] for r in listed["runs"][:2]] == ["running", "queued"]
    assert listed["counts"]["succeeded"] == 3 * len(seeded.archs) and listed["limit"] == 5
    running = listed["runs"][0]
    assert running["id"] == seeded.running_run and running["progress"]["total"] == 4
    only = web_api.get("/v1/runs?status=queued&status=running").json()
    assert {r["id"] for r in only["runs"]} == {seeded.running_run, seeded.queued_run}
    for bad in ("status=done", "limit=0", "limit=501"):
        response = web_api.get(f"/v1/runs?{bad}")
        assert response.status_code == 422 and response.json()["detail"][0]["loc"][0] == "query"


def test_pages_stay_out_of_the_openapi_schema(web_api):
    paths = web_api.get("/openapi.json").json()["paths"]
    assert "/v1/runs" in paths and "get" in paths["/v1/runs"]
    assert not [p for p in paths if p == "/" or p.startswith("/web")]
    assert web_api.get("/web/static/style.css").status_code == 200


def test_a_page_past_the_last_names_the_page_and_the_range(web_api):
    total = web_api.get(f"/v1/leaderboard?{SMOKE}&has_results=true&limit=1").json()["total"]
    last = -(-total // 10)
    assert web_api.get(f"/web/leaderboard?{SMOKE}&has_results=true&per_page=10&page={last}").status_code == 200
    for page in (last + 1, 15_000):
        response = web_api.get(f"/web/leaderboard?{SMOKE}&has_results=true&per_page=10&page={page}")
        assert response.status_code == 422
        assert "page" in response.text and f"use a page from 1 to {last}" in response.text
        assert "offset" not in response.text  # the web form has no offset: the error speaks of pages

"""The contract items one by one (schemathesis covers them broadly in test_api_schemathesis.py):
offline docs, declared statuses, Allow on 405, strict integers, repeated parameters, ASCII digits,
enforced constraints in the schema."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from archscale.space import ArchStringError, parse_arch, resolve_arch
from service.schemas.patterns import ARCH_REF_PATTERN, PROTOCOL_PATTERN, SOURCE_PATTERN

from .conftest import Api

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


@pytest.fixture(scope="module")
def api(pg_db) -> Iterator[Api]:  # type: ignore[no-untyped-def]
    """PostgreSQL only: the contract does not depend on the backend (the API tests run on both)."""
    client = Api(pg_db)
    with client.client:
        yield client


@pytest.fixture(scope="module")
def schema(api: Api) -> dict:
    return api.get("/openapi.json").json()


@pytest.mark.parametrize("page,assets", [("/docs", ("swagger-ui-bundle.js", "swagger-ui.css")),
                                         ("/redoc", ("redoc.standalone.js",))])
def test_docs_pages_load_every_asset_from_the_app(api: Api, page: str, assets: tuple[str, ...]) -> None:
    html = api.get(page).text
    urls = re.findall(r'(?:src|href)="([^"]+)"', html) + re.findall(r"url: '([^']+)'", html)
    assert not [u for u in urls if "//" in u], f"{page} loads from another host: {urls}"
    for asset in assets:
        url = next(u for u in urls if u.endswith(asset))
        response = api.get(url)
        assert response.status_code == 200 and len(response.content) > 10_000, (url, response.status_code)
    assert "fonts.googleapis" not in html


def test_every_status_an_operation_can_answer_is_declared(schema: dict) -> None:
    ops = {(m.upper(), p): op for p, methods in schema["paths"].items() for m, op in methods.items()}
    for (method, path), op in ops.items():
        assert "503" in op["responses"], (method, path)
        if op.get("security"):
            assert "401" in op["responses"], (method, path)
        if "requestBody" in op:
            assert {"400", "413", "422"} <= set(op["responses"]), (method, path)
        else:
            assert "413" not in op["responses"], (method, path)  # GET bodies are never read
    assert {"202", "400", "401", "413", "422", "503"} <= set(ops["POST", "/v1/runs"]["responses"])
    assert "links" in ops["POST", "/v1/runs"]["responses"]["202"]


def test_enforced_constraints_are_in_the_schema(schema: dict) -> None:
    params = {p["name"]: p["schema"] for p in schema["paths"]["/v1/rankings/kendall"]["get"]["parameters"]}
    assert params["k"]["items"] == {"type": "number", "exclusiveMinimum": 0, "maximum": 100}
    assert params["k"]["maxItems"] == 50
    assert params["a"]["pattern"] == SOURCE_PATTERN and "x-test" in params["split"]["enum"]
    board = {p["name"]: p["schema"] for p in schema["paths"]["/v1/leaderboard"]["get"]["parameters"]}
    assert board["protocol"]["pattern"] == PROTOCOL_PATTERN
    body = schema["components"]["schemas"]["RunCreate"]
    assert body["properties"]["arch"]["anyOf"][1]["pattern"] == ARCH_REF_PATTERN
    assert body["properties"]["seeds"]["items"] == {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
    assert body["then"]["properties"]["arch"] == {"not": {"$ref": "#/components/schemas/DegenerateArch"}}
    all_none = resolve_arch("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|").index
    assert all_none in schema["components"]["schemas"]["DegenerateArch"]["enum"]


def test_the_published_patterns_are_what_the_parsers_accept() -> None:
    assert re.fullmatch(ARCH_REF_PATTERN, BEST) and re.fullmatch(ARCH_REF_PATTERN, "15624")
    for text in ("15625", "06111", BEST.replace("~0", "~０", 1), BEST.replace("~1", "~١", 1)):
        assert not re.fullmatch(ARCH_REF_PATTERN, text)
        with pytest.raises((ArchStringError, Exception)):
            resolve_arch(text)
    assert re.fullmatch(PROTOCOL_PATTERN, "smoke@v2") and not re.fullmatch(PROTOCOL_PATTERN, "smoke@v1")


def test_405_allow_lists_every_method_of_the_path(api: Api) -> None:
    response = api.client.patch("/v1/runs/1")
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} >= {"GET", "DELETE"}
    assert "DELETE" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize("seeds", [[False], [True], [777, False]])
def test_booleans_are_not_seeds(api: Api, seeds: list) -> None:
    response = api.post("/v1/runs", json={"arch": 6111, "dataset": "cifar10", "protocol": "smoke", "seeds": seeds})
    assert response.status_code == 422 and "seeds" in response.json()["detail"][0]["loc"], response.text
    assert "boolean" in response.json()["detail"][0]["msg"]


def test_integral_json_numbers_are_integers(api: Api) -> None:
    response = api.post("/v1/runs", json={"arch": 6111.0, "dataset": "cifar10", "protocol": "smoke", "seeds": [5.0]})
    assert response.status_code == 202, response.text
    assert response.json()["arch_index"] == 6111 and response.json()["runs"][0]["seed"] == 5


@pytest.mark.parametrize("path", [
    "/v1/rankings/kendall?a=nb201&a=nats-tss&b=nats-tss",
    "/v1/leaderboard?dataset=cifar10&dataset=cifar100",
    "/v1/archs/6111?dataset=cifar10&dataset=cifar100",
    "/v1/runs?limit=5&limit=6",
])
def test_a_repeated_single_valued_parameter_is_a_422(api: Api, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 422, response.text
    item = response.json()["detail"][0]
    assert item["type"] == "repeated_parameter" and "more than once" in item["msg"]


def test_every_source_the_pattern_allows_parses(api: Api) -> None:
    for source in ("mup/fp32", "arch-aware@smoke@v2/bf16", "standard@nb201-12", "nats-tss:test", "mup:test"):
        assert re.fullmatch(SOURCE_PATTERN, source)
        assert api.get(f"/v1/rankings/kendall?a=nb201&b={source}&k=100").status_code == 200, source


def test_list_parameters_may_repeat(api: Api) -> None:
    assert api.get("/v1/rankings/kendall?a=nb201&b=nats-tss&k=10&k=1").status_code == 200
    assert api.get("/v1/runs?status=queued&status=running").status_code == 200


@pytest.mark.parametrize("digit", ["０", "٠", "۰", "𝟎"])
def test_only_ascii_digits_are_digits_in_arch_strings(api: Api, digit: str) -> None:
    text = BEST.replace("~0", f"~{digit}", 1)
    with pytest.raises(ArchStringError, match="ASCII digit"):
        parse_arch(text)
    response = api.post("/v1/runs", json={"arch": text, "dataset": "cifar10", "protocol": "smoke", "seeds": [1]})
    assert response.status_code == 422 and "ASCII digit" in response.json()["detail"][0]["msg"]
    assert api.get("/v1/archs/" + text.replace("|", "%7C")).status_code == 422


def test_a_split_of_another_setting_is_404_an_unknown_split_422(api: Api) -> None:
    assert api.get("/v1/leaderboard?dataset=cifar10&split=x-test").status_code == 404
    assert api.get("/v1/leaderboard?dataset=cifar10&split=x-tset").status_code == 422


def test_an_empty_params_range_is_an_empty_answer(api: Api) -> None:
    response = api.get("/v1/leaderboard?params_min=10&params_max=5")
    assert response.status_code == 200 and response.json()["total"] == 0

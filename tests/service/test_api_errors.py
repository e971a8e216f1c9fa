"""Bad input of every kind gets a 4xx JSON error naming the field and the fix, never a 500."""

from __future__ import annotations

import pytest

from archscale.space import ArchStringError, parse_arch

from .conftest import Api

BAD_ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


def arch_error(text: str) -> str:
    with pytest.raises(ArchStringError) as info:
        parse_arch(text)
    return str(info.value)


def detail(response) -> dict:  # type: ignore[no-untyped-def]
    body = response.json()
    assert set(body) == {"detail"} and body["detail"], body
    return body["detail"][0]


@pytest.mark.parametrize("path,params,status,loc,text", [
    ("/v1/archs/" + BAD_ARCH.replace("|", "%7C"), {}, 422, ["path", "arch"], arch_error(BAD_ARCH)),
    ("/v1/archs/15625", {}, 404, ["path", "arch"], "outside 0..15624"),
    ("/v1/archs/6111", {"dataset": "cifar11"}, 422, ["query", "dataset"], "cifar10"),
    ("/v1/leaderboard", {"dataset": "mnist"}, 422, ["query", "dataset"], "ImageNet16-120"),
    ("/v1/leaderboard", {"scaling": "magic"}, 422, ["query", "scaling"], "arch-aware"),
    ("/v1/leaderboard", {"protocol": "nb201-300"}, 422, ["query", "protocol"], "use one of"),
    ("/v1/leaderboard", {"split": "x-test", "dataset": "cifar10"}, 404, ["query", "split"], "use one of"),
    ("/v1/leaderboard", {"split": "x-tset", "dataset": "cifar10"}, 422, ["query", "split"], "use one of"),
    ("/v1/leaderboard", {"limit": 0}, 422, ["query", "limit"], "limit"),
    ("/v1/leaderboard", {"offset": -1}, 422, ["query", "offset"], "offset"),
    ("/v1/leaderboard", {"limit": "ten"}, 422, ["query", "limit"], "integer"),
    ("/v1/leaderboard", {"ops": "conv"}, 422, ["query", "ops", 0], "nor_conv_3x3"),
    ("/v1/rankings/kendall", {"k": [10, 0]}, 422, ["query", "k", 1], "(0, 100]"),
    ("/v1/rankings/kendall", {"k": 101}, 422, ["query", "k", 0], "(0, 100]"),
    ("/v1/rankings/kendall", {"k": "nan"}, 422, ["query", "k", 0], "(0, 100]"),
    ("/v1/rankings/kendall", {"a": "nb202"}, 422, ["query", "a"], "nb201 or nats-tss"),
    ("/v1/rankings/kendall", {"b": "arch-aware@nope"}, 422, ["query", "b"], "unknown protocol"),
    ("/v1/rankings/kendall", {"select_by": "best"}, 422, ["query", "select_by"], "union"),
    ("/v1/runs/abc", {}, 422, ["path", "run_id"], "integer"),
    ("/v1/runs/0", {}, 422, ["path", "run_id"], "greater than or equal to 1"),
    ("/v1/runs/99999999", {}, 404, ["path", "run_id"], "POST /v1/runs"),
    ("/v1/nothing", {}, 404, [], "/docs"),
])
def test_bad_reads(api, path, params, status, loc, text):
    response = api.get(path, params=params)
    assert response.status_code == status, response.text
    error = detail(response)
    assert error["loc"] == loc and text in error["msg"], error


@pytest.mark.parametrize("body,loc,text", [
    ({"arch": BAD_ARCH, "dataset": "cifar10"}, ["body", "arch"], arch_error(BAD_ARCH)),
    ({"arch": 99999, "dataset": "cifar10"}, ["body", "arch"], "outside 0..15624"),
    ({"arch": 1, "dataset": "cifar11"}, ["body", "dataset"], "cifar10"),
    ({"arch": 1}, ["body", "dataset"], "required"),
    ({"arch": 1, "dataset": "cifar10", "scaling": "magic"}, ["body", "scaling"], "arch-aware"),
    ({"arch": 1, "dataset": "cifar10", "protocol": "x"}, ["body", "protocol"], "use one of"),
    ({"arch": 1, "dataset": "cifar10", "seeds": []}, ["body", "seeds"], "seeds"),
    ({"arch": 1, "dataset": "cifar10", "seeds": [-1]}, ["body", "seeds", 0], "greater than or equal to 0"),
    ({"arch": 1, "dataset": "cifar10", "colour": "red"}, ["body", "colour"], "remove it"),
    ({"arch": True, "dataset": "cifar10"}, ["body", "arch"], "boolean"),
    ({"arch": "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "dataset": "cifar10"}, ["body", "arch"],
     "scaling 'standard'"),
])
def test_bad_submissions(api, body, loc, text):
    response = api.post("/v1/runs", json=body)
    assert response.status_code == 422, response.text
    error = detail(response)
    assert error["loc"] == loc and text in error["msg"], error


def test_non_json_and_wrong_shapes(api):
    broken = api.post("/v1/runs", content=b"{not json", headers={**api.headers, "Content-Type": "application/json"})
    assert broken.status_code == 422 and "not valid JSON" in detail(broken)["msg"]
    array = api.post("/v1/runs", json=[1, 2])
    assert array.status_code == 422 and "JSON object" in detail(array)["msg"]
    text = api.post("/v1/runs", content=b"arch=1", headers={**api.headers, "Content-Type": "text/plain"})
    assert text.status_code == 422


def test_writes_need_a_live_key(api):
    body = {"arch": 1, "dataset": "cifar10", "protocol": "smoke", "seeds": [3]}
    missing = api.client.post("/v1/runs", json=body)
    assert missing.status_code == 401 and detail(missing)["loc"] == ["header", "X-API-Key"]
    assert "rebench api-key create" in detail(missing)["msg"]
    wrong = api.client.post("/v1/runs", json=body, headers={"X-API-Key": "rb_nope"})
    assert wrong.status_code == 401 and "unknown or revoked" in detail(wrong)["msg"]
    from service.storage.keys import create_key, revoke_key

    with api.db.transaction() as session:
        key = create_key(session, "to revoke")
    assert api.client.post("/v1/runs", json=body, headers={"X-API-Key": key.secret}).status_code == 202
    with api.db.transaction() as session:
        revoke_key(session, key.prefix)
    assert api.client.post("/v1/runs", json=body, headers={"X-API-Key": key.secret}).status_code == 401
    assert api.get("/v1/archs/1").status_code == 200  # reads are public


def test_body_size_is_capped(db):
    small = Api(db, max_body_bytes=2_000)
    big = {"archs": list(range(1000)), "dataset": "cifar10"}
    response = small.post("/v1/batches", json=big)
    assert response.status_code == 413 and detail(response)["loc"] == ["body"]
    assert "2000 bytes" in detail(response)["msg"]
    chunked = small.client.post("/v1/batches", content=iter([b"{" + b" " * 3_000 + b"}"]),
                                headers={**small.headers, "Content-Type": "application/json"})
    assert chunked.status_code == 413  # no Content-Length: counted while reading


def test_cors_is_configurable(db):
    allowed = Api(db, cors_origins=["https://nas.example"])
    ok = allowed.client.options("/v1/leaderboard", headers={"Origin": "https://nas.example",
                                                            "Access-Control-Request-Method": "GET"})
    assert ok.headers.get("access-control-allow-origin") == "https://nas.example"
    evil = allowed.client.options("/v1/leaderboard", headers={"Origin": "https://evil.example",
                                                              "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in evil.headers
    closed = Api(db)
    assert "access-control-allow-origin" not in closed.client.get(
        "/healthz", headers={"Origin": "https://nas.example"}).headers

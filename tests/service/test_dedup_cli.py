"""`rebench submit --dedup` and `RebenchClient.submit_batch(dedup=...)` against the real app
served by uvicorn on a free port (SQLite; the API tests cover PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from service.api import create_app
from service.cli import app as cli
from service.client import ApiError, RebenchClient
from service.storage.keys import create_key

from .conftest import serve_app, settings_for, wipe_runs


@pytest.fixture
def live(sqlite_db) -> Iterator[tuple[str, str]]:
    wipe_runs(sqlite_db)
    with sqlite_db.transaction() as session:
        key = create_key(session, "dedup-cli").secret
    with serve_app(create_app(settings_for(sqlite_db))) as url:
        yield url, key


def test_cli_submit_with_dedup_sends_one_batch(live):
    url, key = live
    args = ["submit", "3", "14483", "6111", "--scaling", "standard", "--protocol", "smoke", "--seed", "11",
            "--url", url, "--api-key", key]
    done = CliRunner().invoke(cli, [*args, "--dedup", "isomorphic"])
    assert done.exit_code == 0, done.output
    assert "1 served" in done.output and "2 trained" in done.output and "(dedup=isomorphic)" in done.output
    served = [line for line in done.output.splitlines() if "served from run" in line]
    assert len(served) == 1 and "arch 14483" in served[0] and "(arch 3)" in served[0]
    bad = CliRunner().invoke(cli, [*args, "--dedup", "graph"])
    assert bad.exit_code != 0 and "dedup" in bad.output and "isomorphic" in bad.output


def test_client_submit_batch_passes_dedup(live):
    url, key = live
    with RebenchClient(url, key) as client:
        answer = client.submit_batch([41, 906], dataset="cifar10", scaling="standard", protocol="smoke", seeds=[12],
                                     dedup="nb201")
        assert (answer["dedup"], answer["runs_trained"], answer["runs_served"]) == ("nb201", 1, 1)
        default = client.submit_batch([41, 906], dataset="cifar10", scaling="standard", protocol="smoke", seeds=[13])
        assert (default["dedup"], default["runs_served"]) == ("exact", 0)
        with pytest.raises(ApiError) as error:
            client.submit_batch([41], dataset="cifar10", dedup="graph")
    assert error.value.status == 422 and error.value.detail[0]["loc"] == ["body", "dedup"]

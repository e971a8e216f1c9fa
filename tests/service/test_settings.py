"""Settings from the environment: REBENCH_<NAME> first, the bare <NAME> accepted, keywords win."""

from __future__ import annotations

import pytest

from service.settings import ENV_PREFIX, Settings, get_settings


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
        monkeypatch.delenv(ENV_PREFIX + name.upper(), raising=False)


def test_prefixed_name_wins_over_the_bare_one(monkeypatch):
    monkeypatch.setenv("QUEUE", "bare")
    assert get_settings().queue == "bare"
    monkeypatch.setenv("REBENCH_QUEUE", "prefixed")
    assert get_settings().queue == "prefixed"
    assert get_settings(queue="keyword").queue == "keyword"


def test_every_field_reads_its_prefixed_name(monkeypatch):
    monkeypatch.setenv("REBENCH_DEVICE", "cpu")
    monkeypatch.setenv("REBENCH_HEARTBEAT_S", "2.5")
    monkeypatch.setenv("REBENCH_CORS_ORIGINS", "http://a, http://b")
    monkeypatch.setenv("REBENCH_DATABASE_URL", "postgresql://u@h/db")
    s = get_settings()
    assert (s.device, s.heartbeat_s, s.cors_origins) == ("cpu", 2.5, ["http://a", "http://b"])
    assert s.database_url == "postgresql+psycopg://u@h/db"  # validators run on either name


def test_a_bad_prefixed_value_names_the_field(monkeypatch):
    monkeypatch.setenv("REBENCH_HEARTBEAT_S", "-1")
    with pytest.raises(ValueError, match="heartbeat_s"):
        get_settings()


def test_cli_flags_set_the_prefixed_name_so_they_beat_the_environment(monkeypatch, tmp_path):
    from service.cli.serve import _set_env

    monkeypatch.setenv("REBENCH_DATA_ROOT", "/from/env")
    monkeypatch.setenv("DATA_ROOT", "/from/bare/env")
    _set_env(data_root=tmp_path)
    assert get_settings().data_root == tmp_path


def test_rebench_worker_consumes_the_configured_queue(monkeypatch):
    from service.cli.serve import worker_queue

    assert worker_queue(None, get_settings()) == get_settings().queue == "rebench"  # unset: the API's default
    monkeypatch.setenv("REBENCH_QUEUE", "gpu-a100")  # what the API sends to
    assert worker_queue(None, get_settings()) == "gpu-a100"
    assert worker_queue("other", get_settings()) == "other"  # the flag wins

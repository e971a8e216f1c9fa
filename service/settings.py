"""Service settings, read from the environment (pydantic-settings), built in a function.

Everything has a working default so that ``rebench`` runs on a laptop with no setup:
an embedded SQLite file and no broker (runs wait in the database for the embedded
worker). Production sets ``DATABASE_URL`` (PostgreSQL) and ``BROKER_URL`` (Redis).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import (BaseSettings, EnvSettingsSource, NoDecode, PydanticBaseSettingsSource,
                               SettingsConfigDict)

__all__ = ["Settings", "get_settings", "default_home", "normalise_database_url", "ENV_PREFIX", "DEFAULT_QUEUE"]

#: ``REBENCH_QUEUE`` sets ``queue``; the bare ``QUEUE`` too, with lower priority
ENV_PREFIX = "REBENCH_"
#: The one queue the API sends to and a default ``rebench worker`` consumes, GPU or not.
DEFAULT_QUEUE = "rebench"


def default_home() -> Path:
    """Where the embedded database and artifacts live when nothing is configured.

    ``$REBENCH_HOME`` if set; else ``var/`` of the source checkout the package runs from
    (git-ignored), so the CLI finds the same database from any working directory; else
    ``~/.local/share/rebench`` for an installed package.
    """
    if os.environ.get("REBENCH_HOME"):
        return Path(os.environ["REBENCH_HOME"]).expanduser()
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").exists():
        return checkout / "var"
    return Path.home() / ".local" / "share" / "rebench"


def normalise_database_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 here (psycopg2 is not installed)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Settings(BaseSettings):
    """One process's configuration, from ``REBENCH_<FIELD>`` or the bare ``<FIELD>`` in the
    environment (upper-case field names; the prefixed name wins when both are set)."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The prefix keeps our settings apart from other tools' DEVICE or QUEUE; the bare names
        # stay accepted (and DATABASE_URL / BROKER_URL are what deployments conventionally set).
        prefixed = EnvSettingsSource(settings_cls, env_prefix=ENV_PREFIX, case_sensitive=False)
        return init_settings, prefixed, env_settings, dotenv_settings, file_secret_settings

    database_url: str = Field("", description="SQLAlchemy URL; empty: SQLite file under REBENCH_HOME")
    broker_url: str | None = Field(None, description="Celery broker (redis://...); unset: embedded worker")
    queue: str = Field(DEFAULT_QUEUE, min_length=1, max_length=64,
                       description="Celery queue that training runs are sent to and `rebench worker` consumes")
    artifact_dir: Path | None = Field(None, description="checkpoints and logs; default REBENCH_HOME/artifacts")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="allowed CORS origins, comma-separated in the environment; empty: off")
    max_body_bytes: int = Field(1_048_576, gt=0, description="requests with larger bodies get 413")
    max_batch_items: int = Field(1000, gt=0, le=1000, description="archs per POST /v1/batches")
    stale_after_s: float = Field(45.0, gt=0, description="a running run without heartbeat this long is stale "
                                 "(with heartbeat_s and reaper_interval_s: a dead worker's run is re-queued "
                                 "within stale_after_s + reaper_interval_s = 55 s)")
    auto_migrate: bool = Field(False, description="migrate and sync reference rows when the API starts")
    cache_check_s: float = Field(1.0, gt=0, description="how often the API checks whether results changed")
    # -- workers (worker/ reads these; the API process ignores them) --------------------
    data_root: Path | None = Field(None, description="datasets for training; default REBENCH_HOME/data")
    cache_dir: Path | None = Field(None, description="decoded-data and base-LR cache; default REBENCH_HOME/cache")
    device: str = Field("auto", description="auto | cpu | cuda for training")
    heartbeat_s: float = Field(10.0, gt=0, description="a running run beats this often, also inside long epochs")
    visibility_timeout_s: float = Field(86_400.0, gt=0, description="Redis redelivers an unacked task after this")
    resend_after_s: float = Field(120.0, gt=0, description="the reaper re-sends queued runs older than this "
                                                         "when the broker lost their messages")
    reaper_interval_s: float = Field(10.0, gt=0, description="how often the reaper looks")
    retry_max_s: float = Field(300.0, gt=0, description="longest backoff between retries of a transient error")
    lock_dir: Path | None = Field(None, description="machine-local dir of the per-GPU-slot worker locks; default "
                                                    "<tmp>/rebench-<uid>-worker-locks")
    # -- campaigns ------------------------------------------------------------------------
    max_campaign_runs: int = Field(500_000, gt=0, description="runs one POST /v1/campaigns may create (the "
                                   "whole space x 4 datasets x 2 scalings x 3 seeds is 375,000)")
    nb201_cost_file: Path | None = Field(None, description="NB201's recorded training times "
                                         "(nb201_tss_hp200_cost.csv.gz) for campaign cost ratios; default: "
                                         "looked for in DATA_ROOT")

    @field_validator("database_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return normalise_database_url(value.strip())

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("broker_url")
    @classmethod
    def _broker(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @property
    def home(self) -> Path:
        return default_home()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'rebench.db'}"

    @property
    def resolved_artifact_dir(self) -> Path:
        return self.artifact_dir or self.home / "artifacts"

    @property
    def resolved_data_root(self) -> Path:
        return self.data_root or self.home / "data"

    @property
    def resolved_cache_dir(self) -> Path:
        return self.cache_dir or self.home / "cache"


def get_settings(**overrides: object) -> Settings:
    """A fresh Settings from the environment; keyword overrides win (tests, CLI flags)."""
    return Settings(**overrides)  # type: ignore[arg-type]

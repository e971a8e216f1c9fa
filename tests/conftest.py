"""Shared fixtures: where the reference data lives.

Tests read ``../shared/data`` (or ``$NB201_DATA_DIR``). A test that needs a file skips
when it is absent, except under ``REBENCH_REQUIRE_DATA=1`` (set by .ci/run), where a
missing file fails the run instead of silently skipping it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from service.settings import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[1]

# Tests configure their processes with the bare setting names (DATABASE_URL, QUEUE, ...). A
# REBENCH_<NAME> exported in the developer's shell would win over them (service/settings.py)
# and point tests at that database or queue: drop those before any test or child process runs.
for _name in Settings.model_fields:
    os.environ.pop(ENV_PREFIX + _name.upper(), None)


def data_dir() -> Path:
    return Path(os.environ.get("NB201_DATA_DIR", ROOT.parent / "shared" / "data"))


def _require(path: Path) -> Path:
    if not path.exists():
        message = f"reference data {path} not found (set NB201_DATA_DIR)"
        if os.environ.get("REBENCH_REQUIRE_DATA") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def nb201_csv() -> Path:
    return _require(data_dir() / "nb201_original.csv.gz")


@pytest.fixture(scope="session")
def cifar10_jpeg() -> Path:
    return _require(data_dir() / "cifar10-jpeg.tar.gz")


@pytest.fixture(scope="session")
def nb201_splits() -> Path:
    return _require(data_dir() / "nb201_splits")

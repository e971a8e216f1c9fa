"""One fresh PostgreSQL database for the web tests: the real NB201 numbers imported with the
function the CLI uses, plus synthetic re-scaled results (``tests/web/seed.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from service.storage.database import Database
from tests.service.conftest import Api, fresh_postgres

from .seed import Seeded, seed_synthetic


@dataclass(frozen=True)
class WebData:
    db: Database
    seeded: Seeded


@pytest.fixture(scope="session")
def web_data(nb201_csv: Path) -> Iterator[WebData]:
    from service.storage.originals import import_csv

    with fresh_postgres("rebench_web") as url:
        db = Database(url)
        db.init()
        with db.engine.begin() as conn:
            import_csv(conn, nb201_csv)
        try:
            yield WebData(db, seed_synthetic(db))
        finally:
            db.dispose()


@pytest.fixture(scope="session")
def web_api(web_data: WebData) -> Iterator[Api]:
    api = Api(web_data.db)
    with api.client:
        yield api

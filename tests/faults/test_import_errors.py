"""Importer errors (defect 5): one line per bad file naming the file, the row/column and the
fix, exit status 2, and nothing written -- through the real CLI (`rebench import-nb201`),
on a database that already holds a good import, which must stay exactly as it was."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from service.cli import app as cli

pytestmark = [pytest.mark.postgres]


def bad_files(good: Path, folder: Path) -> dict[str, tuple[Path, list[str]]]:
    """name -> (file, words its one-line error must contain)"""
    lines = gzip.decompress(good.read_bytes()).decode().splitlines(keepends=True)
    header, first, second = lines[0], lines[1], lines[2]
    truncated = folder / "truncated.csv.gz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    not_gzip = folder / "plain.csv.gz"
    not_gzip.write_text(header + first)
    cells = second.split(",")
    non_numeric = folder / "nonnumeric.csv"
    non_numeric.write_text(header + first + ",".join(cells[:5] + ["9x.1"] + cells[6:]))  # test_acc
    non_utf8 = folder / "latin1.csv"
    non_utf8.write_bytes((header + first).encode() + second.encode().replace(b"cifar", b"c\xefifar"))
    return {"truncated": (truncated, ["truncated.csv.gz", "truncated", "again"]),
            "not gzip": (not_gzip, ["plain.csv.gz", "not valid gzip", "name it .csv"]),
            "non-numeric": (non_numeric, ["nonnumeric.csv", "line 3", "column 'test_acc'", "'9x.1'",
                                          "decimal number"]),
            "non-utf8": (non_utf8, ["latin1.csv", "line 3", "0xef", "UTF-8"])}


def stored(url: str) -> tuple:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return (conn.execute(sa.text("SELECT count(*), sum(value) FROM original_results")).one(),
                    conn.execute(sa.text("SELECT id, sha256, rows FROM result_imports ORDER BY id")).all())
    finally:
        engine.dispose()


def test_bad_files_get_one_line_with_file_position_and_fix_exit_2_and_write_nothing(fault_db, nb201_csv, tmp_path):
    runner = CliRunner()
    good = runner.invoke(cli, ["import-nb201", str(nb201_csv), "--database-url", fault_db.url])
    assert good.exit_code == 0, good.output
    before = stored(fault_db.url)
    assert before[0][0] > 100_000
    for name, (path, words) in bad_files(nb201_csv, tmp_path).items():
        result = runner.invoke(cli, ["import-nb201", str(path), "--database-url", fault_db.url])
        assert result.exit_code == 2, (name, result.exit_code, result.output)
        message = result.stderr.strip()
        assert len(message.splitlines()) == 1 and "Traceback" not in result.output, (name, result.output)
        assert message.startswith("error: "), (name, message)
        for word in words:
            assert word in message, (name, word, message)
        assert stored(fault_db.url) == before, f"{name}: the failed import changed stored data"

"""CLI output read as a log (not a terminal): long lines whole, tables instead of reprs."""

from __future__ import annotations

from typer.testing import CliRunner

from archscale.space import cell_at, format_arch
from service.cli import app
from service.cli.output import console, import_table
from service.storage.originals import ImportReport


def test_piped_output_is_not_wrapped_at_80_columns() -> None:
    result = CliRunner().invoke(app, ["arch", "6111"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    cell = format_arch(cell_at(6111))  # 95 characters
    assert any(cell in line for line in result.output.splitlines()), result.output


def test_an_import_report_prints_as_a_table(capsys) -> None:  # type: ignore[no-untyped-def]
    report = ImportReport(rows={"nb201": 93_750, "nats-tss": 46_875}, path="/data/nb201_original.csv.gz",
                          sha256="969e125e1b587a38" + "0" * 48)
    console().print(import_table(report))
    out = capsys.readouterr().out
    assert "ImportReport(" not in out and "93,750" in out and "46,875" in out
    assert any("nats-tss" in line and "/data/nb201_original.csv.gz" in line for line in out.splitlines())

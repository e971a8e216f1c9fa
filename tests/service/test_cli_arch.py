import csv
import io
import json

from typer.testing import CliRunner

from service.cli import app

runner = CliRunner()


def test_arch_json_for_an_index():
    result = runner.invoke(app, ["arch", "6111", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["index"] == 6111 and info["params"] == 1_073_466 and info["sum_l3"] == 119
    assert {m["edge"] for m in info["init_multipliers"]} == {"0->1", "0->2", "1->2", "1->3", "2->3"}


def test_arch_table_for_a_degenerate_cell_says_so():
    result = runner.invoke(app, ["arch", "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"])
    assert result.exit_code == 0, result.output
    assert "undefined" in result.stdout and "degenerate" in result.stdout


def test_arch_all_csv_has_every_cell():
    result = runner.invoke(app, ["arch", "--all", "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 15_625
    assert [int(r["index"]) for r in rows] == list(range(15_625))
    assert {"index", "arch_str", "unique_key", "num_paths", "sum_l3", "lr", "degenerate", "params",
            "flops"} <= set(rows[0])
    assert sum(r["degenerate"] == "True" for r in rows) == 341


def test_bad_arch_exits_2_with_the_fix():
    result = runner.invoke(app, ["arch", "|conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|"])
    assert result.exit_code == 2
    assert "unknown op 'conv_5x5'" in result.output and "Valid ops" in result.output


def test_unknown_dataset_exits_2():
    result = runner.invoke(app, ["arch", "1", "--dataset", "mnist"])
    assert result.exit_code == 2
    assert "use one of cifar10-valid" in result.output

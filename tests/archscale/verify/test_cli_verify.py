"""``rebench verify``: writes JSON + PNG, and bad input gets a red error naming the field."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from service.cli import app

runner = CliRunner()


def test_verify_init_fast_writes_json_and_png(tmp_path):
    result = runner.invoke(app, ["verify", "init", "--fast", "--quiet", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "init-fast.json").read_text())
    png = (tmp_path / "init-fast.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert data["variant"] == "fast" and data["paper"]["where"].startswith("§3.2")
    assert data["provenance"]["command"] == "rebench verify init --fast"
    assert data["summary"]["reproduced"] is True
    assert (tmp_path / "init-fast.json").stat().st_size < 1_000_000


def test_verify_custom_dag_is_measured(tmp_path):
    result = runner.invoke(app, ["verify", "init", "--fast", "-q", "--out", str(tmp_path), "--dag", "2_22"])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "init-fast-custom.json").read_text())
    assert data["config"]["dags"] == ["2_22"] and len(data["rows"]) == 3  # one row per init scheme


def test_verify_rejects_bad_input_with_the_fix():
    unknown = runner.invoke(app, ["verify", "nope"])
    assert unknown.exit_code == 2 and "unknown experiment 'nope'" in unknown.output and "mlp-depth" in unknown.output
    bad_dag = runner.invoke(app, ["verify", "mlp-topology", "--fast", "--dag", "2_00"])
    assert bad_dag.exit_code == 2 and "--dag" in bad_dag.output and "no input->output path" in bad_dag.output
    no_dag = runner.invoke(app, ["verify", "mlp-depth", "--dag", "2"])
    assert no_dag.exit_code == 2 and "does not take --dag" in no_dag.output
    bad_init = runner.invoke(app, ["verify", "mlp-depth", "--init", "xavier"])
    assert bad_init.exit_code == 2 and "--init 'xavier'" in bad_init.output and "source" in bad_init.output
    no_init = runner.invoke(app, ["verify", "init", "--init", "source"])
    assert no_init.exit_code == 2 and "does not take --init" in no_init.output
    bad_readout = runner.invoke(app, ["verify", "cnn", "--readout", "half"])
    assert bad_readout.exit_code == 2 and "--readout 'half'" in bad_readout.output
    bad_threads = runner.invoke(app, ["verify", "init", "--threads", "0"])
    assert bad_threads.exit_code == 2 and "--threads 0" in bad_threads.output


def test_verify_list_names_every_experiment():
    result = runner.invoke(app, ["verify", "list"])
    assert result.exit_code == 0
    for name in ("init", "mlp-depth", "mlp-topology", "cnn", "mup"):
        assert name in result.output


# generated over the registry: every experiment is listed by the CLI and documented with its command
import pathlib  # noqa: E402

import pytest  # noqa: E402

from archscale.verify import EXPERIMENTS  # noqa: E402

_DOC = pathlib.Path(__file__).resolve().parents[3] / "docs" / "verification.md"


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_every_registered_experiment_is_listed_and_documented_with_its_command(name):
    listed = runner.invoke(app, ["verify", "list"])
    assert listed.exit_code == 0 and any(line.startswith(name + " ") for line in listed.output.splitlines())
    assert f"rebench verify {name}" in _DOC.read_text()

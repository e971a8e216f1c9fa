"""``rebench verify NAME``: run one of the paper's checks and write its JSON + PNG."""

from __future__ import annotations

from typing import List, Optional

import typer

from ._common import fail as _fail


def verify(
    name: str = typer.Argument(..., help="Experiment: init | mlp-depth | mlp-topology | cnn | mup | nb201-lr | update-scale | topology (or 'list')."),
    fast: bool = typer.Option(False, "--fast", help="The small variant the test suite runs (seconds, noisier)."),
    out: str = typer.Option("docs/verification", "--out", help="Folder for <name>.json and <name>.png."),
    dag: Optional[List[str]] = typer.Option(
        None, "--dag", help="Your own DAG (adjacency string, e.g. 2_02_002; 0 none, 1 skip, 2 layer); repeatable. "
                            "Replaces the experiment's DAG list (init, mlp-topology, cnn)."),
    init: Optional[str] = typer.Option(
        None, "--init", help="LR experiments: init of the DAG edges, target (default) | source | he."),
    readout: Optional[str] = typer.Option(
        None, "--readout", help="LR experiments: readout LR, mup (eta / width, default) | full (eta)."),
    size: Optional[str] = typer.Option(
        None, "--size", help="nb201-lr: cpu (C=8, N=1, 16x16, 3k images; default) | paper (C=16, N=5, 32x32, 50k)."),
    device: Optional[str] = typer.Option(None, "--device", help="nb201-lr: torch device, e.g. cuda (paper size)."),
    variant: Optional[str] = typer.Option(
        None, "--variant", help="topology / update-scale: released (the released code's MLP) | derivation."),
    ablate: Optional[str] = typer.Option(
        None, "--ablate", help="topology: swap one component of the released MLP for the derivation's "
                               "(block | stem | degree | readout-init | readout-lr)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No per-network progress lines."),
    threads: Optional[int] = typer.Option(
        None, "--threads", help="torch CPU threads (default: torch's). On a shared machine 1 avoids oversubscription."),
) -> None:
    """Reproduce one of the paper's checks of its init and LR rules (results in docs/verification.md)."""
    from rich.console import Console

    from archscale.dag import DAGError
    from archscale.verify import EXPERIMENTS, UnknownExperiment, get_experiment, run_experiment
    from archscale.verify.data import DataNotFound

    console = Console(stderr=True, highlight=False)
    if name == "list":
        for exp in EXPERIMENTS.values():
            print(f"{exp.name:14s} {exp.title}  [paper: {exp.paper}, {exp.paper_value}; target: {exp.target}]")
        return
    if init is not None and init not in ("target", "source", "he"):
        _fail(f"--init {init!r}: use target (App. A eq. 12), source (eq. 4, released code) or he")
    if readout is not None and readout not in ("mup", "full"):
        _fail(f"--readout {readout!r}: use mup (eta / width, muP's output-layer LR) or full (eta)")
    if threads is not None:
        if threads < 1:
            _fail(f"--threads {threads}: use a positive number of threads, e.g. 1")
        import torch

        torch.set_num_threads(threads)
    try:
        get_experiment(name)
        extra = {"size": size, "device": device, "variant": variant, "ablate": ablate}
        command = ("rebench verify " + name + (" --fast" if fast else "") + "".join(f" --dag {d}" for d in dag or [])
                   + (f" --init {init}" if init else "") + (f" --readout {readout}" if readout else "")
                   + "".join(f" --{k} {v}" for k, v in extra.items() if v is not None)
                   + (f" --threads {threads}" if threads else ""))
        result = run_experiment(name, fast=fast, out_dir=out, dags=list(dag) if dag else None,
                                options={"init": init, "readout": readout, **extra}, command=command,
                                log=(lambda _: None) if quiet else (lambda line: console.print(line, soft_wrap=True)))
    except UnknownExperiment as exc:
        _fail(f"NAME: {exc} (or 'list')")
    except DAGError as exc:
        _fail(f"--dag: {exc}")
    except DataNotFound as exc:
        _fail(str(exc))
    except ValueError as exc:
        _fail(str(exc))
    summary = result["summary"]
    console.print(f"[bold]{name}[/] ({result['variant']}) paper {result['paper']['where']}: "
                  f"{result['paper']['value']}; ours: {_headline(summary)}")
    for path in result.get("files", []):
        print(path)


def _headline(summary: dict) -> str:
    if "r_log" in summary:
        return (f"r(log) = {summary['r_log']}, r = {summary['r_linear']}, slope = {summary['slope_log']}, "
                f"n = {summary['n']}, reproduced = {summary['reproduced']}")
    if "layer_only.target" in summary:
        worst = {k.split(".")[1]: v["max_abs_dev"] for k, v in summary.items() if k.startswith("layer_only.")}
        return f"max |E||z||^2/E||x||^2 - 1| on layer-only DAGs {worst}, reproduced = {summary['reproduced']}"
    if "mean_accuracy" in summary:
        return f"mean accuracy {summary['mean_accuracy']} over {summary['cells']} cells, {summary['cells_where']}"
    return str(summary.get("status", summary))

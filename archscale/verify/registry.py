"""The experiment registry and its one factory, :func:`run_experiment`.

An experiment module registers itself with :func:`register`; ``run_experiment`` runs it,
stamps provenance on the result and writes ``<name>.json`` + ``<name>.png`` (``-fast``
suffix for the fast variant, so a quick check never overwrites a published result).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from archscale.errors import UnknownName

__all__ = ["Experiment", "EXPERIMENTS", "UnknownExperiment", "register", "get_experiment", "run_experiment",
           "replot", "MAX_JSON_BYTES"]

MAX_JSON_BYTES = 1_000_000
Log = Callable[[str], None]


class UnknownExperiment(UnknownName):
    """An experiment name not in the registry; the message lists the valid ones."""


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    paper: str  # where the paper reports it, e.g. "Fig. 2 (§4.1)"
    paper_value: str  # e.g. "r = 0.838"
    target: str  # what counts as reproduced
    run: Callable[..., dict[str, Any]]  # run(fast=, dags=, log=) -> payload with a "summary"
    plot: Callable[[dict[str, Any], Path], bool]  # False: nothing to plot (e.g. not run)
    accepts_dags: bool = False  # whether --dag replaces the experiment's own DAG list
    options: tuple[str, ...] = ()  # extra keyword options run() takes (e.g. "init")


EXPERIMENTS: dict[str, Experiment] = {}


def register(experiment: Experiment) -> Experiment:
    if experiment.name in EXPERIMENTS:
        raise ValueError(f"experiment {experiment.name!r} registered twice")
    EXPERIMENTS[experiment.name] = experiment
    return experiment


def get_experiment(name: str) -> Experiment:
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise UnknownExperiment(f"unknown experiment {name!r}; use one of {', '.join(EXPERIMENTS)}") from None


def _git_commit() -> str:
    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "archscale"], cwd=root,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = head.stdout.strip() or "unknown"
    return commit + ("+uncommitted-archscale-changes" if dirty.stdout.strip() else "")


def provenance(command: str, seconds: float, load_before: tuple[float, ...]) -> dict[str, Any]:
    import torch

    return {
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": command,
        "wall_seconds": round(seconds, 1),
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, torch threads {torch.get_num_threads()}",
        # the development machine is shared: the load says how trustworthy the wall time is
        "load_average_before_after": [round(v, 2) for v in (*load_before, *os.getloadavg())],
    }


def run_experiment(name: str, *, fast: bool = False, out_dir: Path | str | None = None,
                   dags: list[str] | None = None, options: dict[str, Any] | None = None,
                   command: str | None = None, log: Log = lambda _: None) -> dict:
    """Run one registered experiment; write its JSON and PNG into ``out_dir`` when given.

    ``options`` (e.g. ``{"init": "source"}``) go to experiments that declare them; each
    one set is added to the file names (``mlp-topology-init-source.json``).
    """
    exp = get_experiment(name)
    if dags and not exp.accepts_dags:
        raise ValueError(f"experiment {name!r} does not take --dag; use one of "
                         f"{', '.join(n for n, e in EXPERIMENTS.items() if e.accepts_dags)}")
    options = {k: v for k, v in (options or {}).items() if v is not None}
    for key in options:
        if key not in exp.options:
            raise ValueError(f"experiment {name!r} does not take --{key}; use one of "
                             f"{', '.join(n for n, e in EXPERIMENTS.items() if key in e.options)}")
    load_before = os.getloadavg()
    started = time.perf_counter()
    payload = exp.run(fast=fast, dags=dags, log=log, **options)
    result = {
        "experiment": name, "title": exp.title, "variant": "fast" if fast else "full",
        "paper": {"where": exp.paper, "value": exp.paper_value}, "target": exp.target,
        "summary": payload.pop("summary"), **payload,
        "provenance": provenance(command or " ".join(sys.argv), time.perf_counter() - started, load_before),
    }
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        stem = (name + ("-fast" if fast else "") + ("-custom" if dags else "")
                + "".join(f"-{k}-{v}" for k, v in sorted(options.items())))
        text = json.dumps(_finite(result), indent=1, allow_nan=False, default=_json_default)
        if len(text.encode()) > MAX_JSON_BYTES:
            raise RuntimeError(f"{stem}.json would be {len(text) // 1000} kB (> 1 MB): record fewer raw points")
        (out / f"{stem}.json").write_text(text + "\n")
        result["files"] = [str(out / f"{stem}.json")]
        if exp.plot(result, out / f"{stem}.png"):
            result["files"].append(str(out / f"{stem}.png"))
    return result


def replot(json_path: Path | str) -> bool:
    """Redraw ``<name>.png`` beside a result JSON (after a plotting change, without rerunning)."""
    path = Path(json_path)
    result = json.loads(path.read_text())
    return get_experiment(result["experiment"]).plot(result, path.with_suffix(".png"))


def _finite(value: Any) -> Any:
    """JSON has no NaN/inf: write them as null (a diverged run's loss, an undefined r)."""
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")

"""The GPU suite: one command, a hard budget (8 min), every stage capped, a JSON and a markdown table.

    # on the GPU machine, from the repository root (docs/gpu_suite.md: staging and setup)
    scripts/gpu_setup.sh && python3 benchmarks/gpu_suite.py --data-root data-local --json gpu_suite.json
    # in CI, on CPU, the same code paths in < 60 s
    python benchmarks/gpu_suite.py --tiny --json /tmp/suite.json

Stages (issue 15), in order; each gets min(its cap, what is left) and is skipped with a note when
less than its minimum is left; the report is rewritten after every stage, and a watchdog writes
it and exits if the whole budget is passed:

1. provenance: GPU, driver, torch, CUDA, cuDNN, clocks, git revision;
2. parity: 20 fp32 steps CPU vs device (rel <= 1e-3); bf16 and torch.compile loss curves, 200 steps;
3. train img/s, ours vs the reference pipeline (xautodl net + torchvision DataLoader), batch 256;
4. packing k = 1, 2, 4, 8 runs per GPU (``benchmarks/gpu_packing.py``), aggregate img/s;
5. a full 200-epoch nb201-200 CIFAR-10 run of the median cell (by FLOPs): wall time, accuracy vs NB201;
6. the 1-epoch base-LR searches of every recipe (``rebench base-lr``, 3 seeds), as a subprocess;
7. with the time left, a 12-epoch sweep of >= 16 cells spread in NB201 accuracy, arch-aware vs
   standard: a first Kendall tau.

``--tiny`` runs everything on CPU with a synthetic CIFAR-10 (python format, written to a temp
folder), small nets and few steps: it checks the code, not the numbers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SITE = ROOT / "data-local" / "site"  # wheels carried to the GPU machine (scripts/gpu_setup.sh)
sys.path[:0] = [str(ROOT), str(HERE)] + ([str(SITE)] if SITE.is_dir() else [])  # archscale, siblings, wheels

#: (name, cap seconds, minimum seconds) on the GPU; --tiny scales caps down.
STAGES = [("provenance", 15, 1), ("parity", 100, 20), ("throughput", 60, 15), ("packing", 90, 30),
          ("full_run", 120, 30), ("base_lr", 90, 20), ("sweep", 600, 20)]


def _smi(query: str) -> str | None:
    try:
        out = subprocess.run(["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=10)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def stage_provenance(ctx) -> dict[str, Any]:
    import platform

    import torch

    from archscale.training.provenance import git_revision

    info: dict[str, Any] = {"torch": torch.__version__, "cuda": torch.version.cuda,
                            "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
                            "python": platform.python_version(), "host": platform.node(), "cpus": os.cpu_count(),
                            "git": git_revision(), "device": str(ctx.device)}
    if ctx.device.type == "cuda":
        props = torch.cuda.get_device_properties(ctx.device)
        info |= {"gpu": props.name, "sm_count": props.multi_processor_count, "memory_gib": props.total_memory / 2**30,
                 "capability": f"{props.major}.{props.minor}",
                 "driver": _smi("driver_version"),
                 "clocks": _smi("clocks.sm,clocks.mem,clocks.max.sm,clocks.max.mem,power.draw,power.limit"),
                 "nvidia_smi_fields": "sm MHz, mem MHz, max sm MHz, max mem MHz, power W, power limit W"}
    else:
        info["note"] = "no CUDA device: CPU run (--tiny checks code paths, not GPU numbers)"
    return info


def stage_packing(ctx) -> dict[str, Any]:
    import argparse as ap

    import gpu_packing

    import torch

    tiny = ctx.tiny
    if ctx.device.type == "cuda":
        torch.cuda.empty_cache()  # give the k child processes the memory the earlier stages cached
    ks = [1, 2] if tiny else [1, 2, 4, 8]
    seconds = 0.5 if tiny else max(4.0, min(8.0, ctx.left() / len(ks) - 10))
    args = ap.Namespace(device=ctx.device.type, cell=str(ctx.cell), scaling="standard", C=4 if tiny else 16,
                        N=1 if tiny else 5, batch=16 if tiny else 256, steps_per_chunk=2 if tiny else 20,
                        precision="fp32", seconds=seconds, ks=ks, json=None)
    rows = []
    for k in ks:
        if ctx.left() < seconds * 2 + (3 if tiny else 20):
            rows.append({"k": k, "skipped": f"{ctx.left():.0f} s left in the stage"})
            continue
        rows.append(gpu_packing.measure(args, k))
    done = [r for r in rows if "aggregate_img_s" in r]
    if not done:
        return {"skipped": "no k fitted in the stage's time", "rows": rows}
    best = max(done, key=lambda r: r["aggregate_img_s"])
    return {"rows": rows, "seconds_each": seconds, "best_k": best["k"], "target_speedup": 3.0,
            "speedup_best_vs_k1": best["aggregate_img_s"] / done[0]["aggregate_img_s"],
            "note": "k processes per GPU, each the full-size net on device-resident random uint8 images"}


def stage_base_lr(ctx) -> dict[str, Any]:
    """``rebench base-lr --recipe R --seeds ...`` per recipe, if this checkout's CLI has them."""
    cli = [sys.executable, "-m", "service.cli", "base-lr"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(SITE), os.environ.get("PYTHONPATH", "")])}
    help_text = subprocess.run(cli + ["--help"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    if help_text.returncode != 0:
        return {"skipped": f"`rebench base-lr --help` failed: {help_text.stderr.strip()[-300:]}"}
    missing = [o for o in ("--recipe", "--seeds") if o not in help_text.stdout]
    if missing:
        return {"skipped": f"this checkout's `rebench base-lr` has no {' / '.join(missing)} option yet (the "
                           "recipes' base-LR search is another issue's): nothing was run"}
    protocol = "smoke" if ctx.tiny else "nb201-200"
    results = {}
    for recipe in ("arch-aware", "arch-aware-derived"):
        cmd = cli + ["--dataset", "cifar10", "--recipe", recipe, "--protocol", protocol, "--seeds", "777", "888",
                     "999", "--data-root", str(ctx.data_root), "--cache-dir", str(ctx.cache_dir / "base-lr"),
                     "--device", ctx.device.type]
        if ctx.tiny and "--grid" in help_text.stdout:
            cmd += ["--grid", "0.1,0.46"]
        if ctx.left() < 10:
            results[recipe] = {"skipped": f"{ctx.left():.0f} s left"}
            continue
        t0 = time.perf_counter()
        try:
            run = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=max(5, ctx.left()))
            results[recipe] = {"returncode": run.returncode, "seconds": time.perf_counter() - t0,
                               "stdout_tail": run.stdout[-1500:], "stderr_tail": run.stderr[-800:], "cmd": cmd[3:]}
        except subprocess.TimeoutExpired:
            results[recipe] = {"skipped": "stage cap reached mid-search", "seconds": time.perf_counter() - t0}
    return {"recipes": results, "note": "stored with provenance by the command itself (its cache file)"}


def _sweep_cells(nb201: dict[int, float], n: int) -> list[int]:
    """n non-degenerate cells at evenly spaced quantiles of NB201's cifar10 test accuracy."""
    from archscale.scaling import nb201_lr

    ranked = sorted((acc, i) for i, acc in nb201.items() if not nb201_lr(i, base_lr=1.0).degenerate)
    if not ranked:
        return [6111, 1835, 0, 9999, 11, 284][:n]
    picks = [ranked[round(q * (len(ranked) - 1) / (n - 1))][1] for q in range(n)]
    return list(dict.fromkeys(picks))


def _markdown(report: dict[str, Any]) -> str:
    s = report["stages"]
    lines = [f"GPU suite {report['date']} ({'tiny, CPU' if report['tiny'] else report['device']}), budget "
             f"{report['budget_s']:.0f} s, used {report['elapsed_s']:.0f} s", "",
             "| stage | status | s | result |", "|---|---|---|---|"]
    for name, row in s.items():
        r = row.get("result") or {}
        summary = {
            "provenance": lambda: f"{r.get('gpu', 'cpu')}, torch {r.get('torch')}, cuDNN {r.get('cudnn')}, "
                                  f"driver {r.get('driver')}, clocks {r.get('clocks')}",
            "parity": lambda: "fp32 rel {:.2e} (<= 1e-3: {}; CPU layout floor {:.2e}), bf16 {} (<= {}: {}), "
                              "compile {} (<= {}: {})".format(
                r["fp32"]["max_rel_diff"], r["fp32"]["pass"], r["fp32"]["cpu_layout_floor_max_rel_diff"],
                r["bf16"]["max_window_rel_diff"], r["bf16"]["tolerance"], r["bf16"]["pass"],
                r["compile"]["max_window_rel_diff"], r["compile"]["tolerance"], r["compile"]["pass"]),
            "throughput": lambda: f"ours {r['ours_fp32_img_s']:.0f} img/s fp32 ({r['ours_bf16_img_s']:.0f} bf16) vs "
                                  f"reference {r['reference_img_s']:.0f}: {r['ratio_fp32']:.2f}x (target 5x)",
            "packing": lambda: ", ".join(f"k={x['k']}: {x['aggregate_img_s']:.0f}" for x in r["rows"]
                                         if "aggregate_img_s" in x) + (
                f"; best {r['speedup_best_vs_k1']:.2f}x (target 3x)" if r.get("speedup_best_vs_k1") else ""),
            "full_run": lambda: f"cell {r['cell']}: {r['epochs_done']}/{r['epochs']} epochs, wall {r['wall_s']:.0f} s "
                                f"(projected {r['projected_wall_s']:.0f} s, target 90), test {r['test_acc']:.2f}% vs "
                                f"NB201 {r['nb201_test_acc']}",
            "base_lr": lambda: r.get("skipped") or "; ".join(
                f"{k}: rc {v.get('returncode')}" for k, v in r["recipes"].items()),
            "sweep": lambda: f"{r['cells_done']}/{r['cells_planned']} cells; tau(arch-aware, standard) = "
                             f"{r['tau_arch_aware_vs_standard']}",
        }[name]
        try:
            text = summary() if row["status"] == "ok" else row.get("note", "")
        except (KeyError, TypeError) as exc:
            text = f"(summary unavailable: {exc!r})"
        lines.append(f"| {name} | {row['status']} | {row.get('seconds', 0):.1f} | {text} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiny", action="store_true", help="CPU, synthetic data, small sizes: the CI check")
    ap.add_argument("--json", type=Path, required=True, help="write the report here (rewritten after each stage)")
    ap.add_argument("--md", type=Path, default=None, help="markdown table (default: beside --json, .md)")
    ap.add_argument("--data-root", type=Path, default=ROOT / "data-local", help="staged data (scripts/stage_gpu_data.py)")
    ap.add_argument("--budget-s", type=float, default=None, help="hard budget (default 480; --tiny 55)")
    ap.add_argument("--stages", nargs="+", default=[n for n, _, _ in STAGES], help="run only these")
    ap.add_argument("--sweep-cells", type=int, default=16)
    ap.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "nb201-gpu-suite-cache",
                    help="decoded CIFAR-10 (kept between runs on the same machine)")
    args = ap.parse_args()
    budget = args.budget_s or (50.0 if args.tiny else 480.0)
    t_start = time.monotonic()
    md_path = args.md or args.json.with_suffix(".md")
    report: dict[str, Any] = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                              "tiny": args.tiny, "budget_s": budget, "stages": {}, "elapsed_s": 0.0, "device": None}

    def write() -> None:
        report["elapsed_s"] = time.monotonic() - t_start
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str))
        md_path.write_text(_markdown(report))

    def watchdog(*_: object) -> None:  # the whole budget is spent: keep what we have, and stop
        report["watchdog"] = "hard budget reached: the stage in flight was abandoned"
        for name, _cap, _min in STAGES:
            if name in args.stages and name not in report["stages"]:
                what = "abandoned mid-stage" if name == in_flight[0] else "not started"
                report["stages"][name] = {"status": "skipped", "note": f"hard budget reached: {what}",
                                          "seconds": time.monotonic() - t_stage[0] if name == in_flight[0] else 0}
        write()
        print(md_path.read_text(), flush=True)
        os._exit(0 if all(s["status"] != "failed" for s in report["stages"].values()) else 1)

    in_flight, t_stage = [""], [0.0]

    signal.signal(signal.SIGALRM, watchdog)
    signal.alarm(int(budget) + 5)
    ctx = _context(args, report)
    write()
    runners: dict[str, Callable[[Any], dict]] = _runners(ctx, args)
    scale = 0.12 if args.tiny else 1.0
    for name, cap, minimum in STAGES:
        if name not in args.stages:
            continue
        left = budget - (time.monotonic() - t_start)
        if left < minimum * scale:
            report["stages"][name] = {"status": "skipped", "note": f"budget short: {left:.0f} s left, needs "
                                                                   f">= {minimum * scale:.0f} s"}
            write()
            continue
        ctx.deadline = time.monotonic() + min(cap * (scale if args.tiny else 1.0), left)
        t0, c0 = time.monotonic(), time.process_time()
        in_flight[0], t_stage[0] = name, t0
        try:
            result = runners[name](ctx)
            status = "skipped" if "skipped" in result else "ok"
            report["stages"][name] = {"status": status, "result": result, "note": result.get("skipped", "")}
        except Exception as exc:  # one broken stage must not lose the others
            report["stages"][name] = {"status": "failed", "note": f"{type(exc).__name__}: {exc}"[:500],
                                      "traceback": traceback.format_exc()[-3000:]}
        report["stages"][name]["seconds"] = time.monotonic() - t0
        report["stages"][name]["cpu_seconds_main_process"] = time.process_time() - c0
        write()
        print(f"[{time.monotonic() - t_start:6.1f} s] {name}: {report['stages'][name]['status']}", flush=True)
    signal.alarm(0)
    write()
    print(md_path.read_text())
    return 0 if all(s["status"] != "failed" for s in report["stages"].values()) else 1


def _context(args: argparse.Namespace, report: dict[str, Any]):
    import torch

    from gpu_stages import Ctx
    from suite_data import load_cifar10, median_cell, nb201_test_acc, predecode_cifar10_jpeg, synthetic_cifar10

    device = torch.device("cuda" if torch.cuda.is_available() and not args.tiny else "cpu")
    report["device"] = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    if args.tiny:
        torch.set_num_threads(min(2, os.cpu_count() or 1))
    work = Path(tempfile.mkdtemp(prefix="gpu-suite-"))
    data_root = synthetic_cifar10(work / "data") if args.tiny else args.data_root
    cache = work / "cache" if args.tiny else args.cache_dir
    jpeg = data_root / "cifar10-jpeg.tar.gz"
    if not args.tiny and jpeg.is_file() and not (data_root / "cifar-10-batches-py").is_dir():
        t0 = time.monotonic()
        predecode_cifar10_jpeg(jpeg, cache, os.cpu_count() or 1)
        report["decode_s"] = time.monotonic() - t0
    train, test = load_cifar10(data_root, cache)
    nb201 = nb201_test_acc([args.data_root, ROOT.parent / "shared" / "data"])
    return Ctx(device=device, tiny=args.tiny, train=train, test=test, data_root=data_root, cache_dir=cache,
               out_dir=args.json.parent, nb201_acc=nb201, cell=median_cell(),
               compile_backend="eager" if args.tiny else "inductor")


def _runners(ctx, args: argparse.Namespace) -> dict[str, Callable[[Any], dict]]:
    import gpu_stages

    cells = _sweep_cells(ctx.nb201_acc, 3 if args.tiny else args.sweep_cells)
    return {"provenance": stage_provenance, "parity": gpu_stages.stage_parity,
            "throughput": gpu_stages.stage_throughput, "packing": stage_packing,
            "full_run": gpu_stages.stage_full_run, "base_lr": stage_base_lr,
            "sweep": lambda c: gpu_stages.stage_sweep(c, cells)}


if __name__ == "__main__":
    sys.exit(main())

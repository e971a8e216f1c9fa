"""GET /v1/archs/{arch}: facts, init, LR, costs, original and re-scaled numbers of one cell."""

from __future__ import annotations

import math
import zlib
from typing import Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from archscale.dag import from_nb201
from archscale.datasets import DATASETS
from archscale.scaling import init_multipliers
from archscale.space import OPS, cell_at
from service.schemas.archs import ArchOut
from service.schemas.patterns import ARCH_REF_PATTERN
from service.schemas.common import ERROR_RESPONSES, EXAMPLE_ARCH, DatasetName
from service.storage.readmodel import Series, Snapshot

from ..deps import path_arch_index, snapshot_of
from ..sources import protocol_info

router = APIRouter(tags=["archs"])
#: Memoised arch answers per snapshot, zlib-packed (5.3 kB -> 1.6 kB: every cell fits in ~26 MB).
#: Unpacking costs ~25 us, building a page ~100 us.
ARCH_PAGES = 16_384


def _num(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def number_out(series: Series, index: int) -> dict[str, Any]:
    row = series.per_seed[index].tolist()
    per_seed = {str(seed): v for seed, v in zip(series.seeds, row) if v == v}  # v == v: not NaN
    served = [] if series.served is None else [int(s) for s, f in zip(series.seeds, series.served[index]) if f]
    origin = -1 if series.served_from is None else int(series.served_from[index])
    return {"source": series.key.origin, "split": series.key.split, "metric": series.key.metric,
            "value": float(series.mean[index]), "std": _num(series.std[index]), "n": int(series.n[index]),
            "seeds": [int(s) for s in per_seed], "per_seed": per_seed, "served_seeds": served,
            "served_from": None if origin < 0 else origin}


def source_out(series: Series) -> dict[str, Any]:
    return {"kind": series.kind, "scaling": series.scaling, "protocol": protocol_info(series),
            "precision": series.precision, "aggregation": series.aggregation, "provenance": series.provenance}


def _lr_note(snapshot: Snapshot, dataset: str, index: int) -> str:
    if snapshot.degenerate[index]:
        return "degenerate cell (S = 0): the arch-aware LR rule is undefined; arch-aware runs are refused"
    if math.isnan(snapshot.settings[dataset]["base_lr"][index]):
        return f"no base LR known for {dataset}: `rebench base-lr --dataset {dataset}` searches one"
    return "lr = base_lr * sqrt(S_base / S), S_base = 1 (the paper's released NB201 convention)"


def arch_payload(snapshot: Snapshot, index: int, datasets: list[str]) -> bytes:
    cell = cell_at(index)
    dag = from_nb201(cell)
    multipliers = init_multipliers(dag, "target")
    payload = {
        "index": index, "arch_str": snapshot.arch_str[index], "unique_key": snapshot.unique_key[index],
        "relabel_key": snapshot.relabel_key[index], "num_paths": int(snapshot.num_paths[index]),
        "sum_l3": int(snapshot.sum_l3[index]), "degenerate": bool(snapshot.degenerate[index]),
        "ops": {op: cell.ops.count(op) for op in OPS},
        "init": {"degree": "target", "in_degrees": dag.in_degrees(),
                 "multipliers": [{"edge": f"{e.src}->{e.dst}", "op": e.label, "C": multipliers[(e.src, e.dst)]}
                                 for e in dag.layer_edges]},
        "sources": {},
        "datasets": {},
    }
    sources: dict[str, Any] = {}
    for dataset in datasets:
        settings = snapshot.settings[dataset]
        found = [s for s in snapshot.series_for(dataset) if not math.isnan(s.mean[index])]
        for series in found:
            if series.key.origin not in sources:
                sources[series.key.origin] = source_out(series)
        payload["datasets"][dataset] = {
            "lr": _num(settings["lr"][index]), "base_lr": _num(settings["base_lr"][index]),
            "lr_note": _lr_note(snapshot, dataset, index), "params": int(settings["params"][index]),
            "flops": int(settings["flops"][index]),
            "original": [number_out(s, index) for s in found if s.kind == "original"],
            "rescaled": [number_out(s, index) for s in found if s.kind == "rescaled"],
        }
    payload["sources"] = sources
    return orjson.dumps(payload)


@router.get("/v1/archs/{arch}", response_model=ArchOut, responses=ERROR_RESPONSES,
            summary="One cell: keys, S, LR, init, params/FLOPs, original and re-scaled numbers per setting")
async def read_arch(
    request: Request,
    arch: str = Path(description="cell string (URL-encoded) or official index 0..15624",
                     json_schema_extra={"pattern": ARCH_REF_PATTERN},
                     examples=[EXAMPLE_ARCH, "6111"], max_length=300),
    dataset: DatasetName | None = Query(None, description="only this setting (default: all four)"),
) -> Response:
    index = path_arch_index(arch)
    datasets = [dataset] if dataset else list(DATASETS)
    snapshot = await snapshot_of(request)
    packed = snapshot.remember("arch", (index, dataset),
                               lambda: zlib.compress(arch_payload(snapshot, index, datasets), 1), limit=ARCH_PAGES)
    return Response(zlib.decompress(packed), media_type="application/json")

"""Merge `rebench base-lr --output` files (one per seed or several seeds) into the shipped
reference entries, archscale/data/base_lrs.json, as one `searched` entry per protocol given.

    python scripts/ship_base_lrs.py --protocols nb201-200 nb201-12 --git ac42f34 \
        /tmp/search/arch-aware.777.json /tmp/search/arch-aware.888.json

All files must be one (dataset, recipe) and share the grid; seeds combine as archscale.base_lrs
says. A 1-epoch search does not see the protocol's epoch count, so a nb201-200 search is shipped
for nb201-12 too (the note says so). Rerun after every search that should ship.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from archscale.base_lrs import BaseLREntry, pick_base_lr
from archscale.protocols import get_protocol

DATA = Path(__file__).resolve().parents[1] / "archscale" / "data" / "base_lrs.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--protocols", nargs="+", required=True)
    ap.add_argument("--git", default="", help="the commit whose code ran the search")
    args = ap.parse_args()
    entries = [json.loads(f.read_text())["entry"] for f in args.files]
    first = entries[0]
    if any((e["dataset"], e["recipe"], e["grid"]) != (first["dataset"], first["recipe"], first["grid"])
           for e in entries):
        raise SystemExit("the files differ in dataset, recipe or grid: ship them separately")
    losses = {seed: values for e in entries for seed, values in e["losses"].items()}
    seeds = [int(s) for s in losses]
    value = pick_base_lr(first["grid"], losses)
    data = json.loads(DATA.read_text())
    for protocol in args.protocols:
        spec = get_protocol(protocol)
        note = (f"{first['note']}; searched under {first['protocol_key']}"
                + ("" if protocol == first["protocol"] else f" (a 1-epoch search does not see the epoch count: the "
                                                           f"{first['protocol']} search, shipped for {protocol})"))
        entry = BaseLREntry(
            dataset=first["dataset"], recipe=first["recipe"], protocol=protocol, protocol_key=spec.key, value=value,
            origin="searched", grid=first["grid"], losses=losses, seeds=seeds, criterion=first["criterion"],
            code_version=first["code_version"], hardware=first["hardware"],
            created_at=max(e["created_at"] for e in entries), note=note,
            extra={**first["extra"], "git": args.git, "seconds": [e["extra"]["seconds"] for e in entries]})
        data["entries"] = [e for e in data["entries"] if (e["dataset"], e["recipe"], e["protocol"], e["origin"])
                           != (entry.dataset, entry.recipe, entry.protocol, "searched")] + [entry.as_dict()]
    DATA.write_text(json.dumps(data, indent=1) + "\n")
    print(f"{first['dataset']} / {first['recipe']}: {value:g} over seeds {seeds} -> {DATA} ({', '.join(args.protocols)})")


if __name__ == "__main__":
    main()

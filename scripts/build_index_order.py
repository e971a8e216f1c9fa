"""Regenerate archscale/data/nb201_index_order.u16 from the NB201 index <-> string table.

The official NB201 index order is a fixed permutation of the 15,625 cells that no rule
generates, so the package ships it: 15,625 little-endian uint16 cell codes (Cell.code),
one per official index. Only the order is stored, none of the benchmark's numbers.

    python scripts/build_index_order.py ../shared/data/nb201_original.csv.gz
"""

import csv
import gzip
import sys
from array import array
from pathlib import Path

from archscale.space import NUM_CELLS, parse_arch

OUT = Path(__file__).resolve().parents[1] / "archscale" / "data" / "nb201_index_order.u16"


def main(path: str) -> None:
    codes = [None] * NUM_CELLS
    with gzip.open(path, "rt", newline="") as handle:
        for row in csv.DictReader(handle):
            codes[int(row["arch_index"])] = parse_arch(row["arch_str"]).code
    if None in codes or len(set(codes)) != NUM_CELLS:
        raise SystemExit("the table does not map every index to a distinct cell")
    table = array("H", codes)
    if sys.byteorder != "little":
        table.byteswap()
    OUT.write_bytes(table.tobytes())
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/nb201_original.csv.gz")

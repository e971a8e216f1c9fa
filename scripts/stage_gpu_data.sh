#!/usr/bin/env bash
# Prepare data-local/ (git-ignored) for benchmarks/gpu_suite.py on a GPU machine where only the
# repository travels (the device tool: name "data-local" in `carry`; <= 64 MiB with the repo).
#
#   scripts/stage_gpu_data.sh [SOURCE=../shared/data] [DEST=data-local]
#
# What goes (about 22 MB; CIFAR-10 stays JPEG-compressed: decoded uint8 would be 176 MB):
#   cifar10-jpeg.tar.gz             the 60,000 CIFAR-10 images; the suite decodes them on all cores
#                                   into the training reader's cache (identical arrays) in seconds
#   nb201_original.csv.gz           NB201's accuracies (the full run's and the sweep's comparison)
#   nb201_tss_hp200_cost.csv.gz     NB201's recorded training times (docs/scaling.md)
#   nb201_splits/                   NB201's split files
#   wheels/xautodl-1.0.0-*.whl      the reference network (pure Python, 0.2 MB); skipped offline
set -euo pipefail
SRC=${1:-../shared/data}
DEST=${2:-data-local}
for f in cifar10-jpeg.tar.gz nb201_original.csv.gz nb201_tss_hp200_cost.csv.gz; do
    [ -f "$SRC/$f" ] || { echo "error: $SRC/$f is missing (pass the folder holding the reference data)" >&2; exit 2; }
done
mkdir -p "$DEST/nb201_splits" "$DEST/wheels"
cp "$SRC/cifar10-jpeg.tar.gz" "$SRC/nb201_original.csv.gz" "$SRC/nb201_tss_hp200_cost.csv.gz" "$DEST/"
cp "$SRC"/nb201_splits/* "$DEST/nb201_splits/"
PIP=${PIP:-python3 -m pip}
$PIP download -q --no-deps --only-binary=:all: -d "$DEST/wheels" xautodl==1.0.0 \
    || echo "note: no xautodl wheel (offline?): the reference stage will use our network and say so"
git check-ignore -q "$DEST" || echo "warning: $DEST is not git-ignored: it would travel as untracked files" >&2
du -sh "$DEST"

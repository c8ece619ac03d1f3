#!/usr/bin/env bash
# Campaign status/verify at scale (BENCHMARKS.md, "Campaign status and verify at scale"):
# generates (once) a campaign of FILES input files of EVENTS_PER_FILE events in chunks of
# FILES_PER_CHUNK files, with real HDF5 event and tracks files and journals of 4 producers
# per run (every 10th chunk with a killed, redone run; about 1 event in 1000 failed), then
# times the library in-process and the trkaas CLI (`campaign status`, `campaign verify`).
#
#   bench/campaign_bench.sh [BUILD_DIR=build] [DIR=/tmp/trkaas-campaign-bench] \
#                           [FILES=10000] [EVENTS_PER_FILE=100] [FILES_PER_CHUNK=10]
# Reuses DIR when it already holds a campaign of that shape (delete DIR to regenerate).
set -euo pipefail
BUILD=${1:-build}
DIR=${2:-/tmp/trkaas-campaign-bench}
FILES=${3:-10000}
PER_FILE=${4:-100}
PER_CHUNK=${5:-10}
BENCH=$BUILD/bench/bench_campaign
[[ -x $BENCH ]] || { echo "no $BENCH: build the bench_campaign target" >&2; exit 2; }
[[ -x $BUILD/trkaas ]] || { echo "no $BUILD/trkaas" >&2; exit 2; }

shape="$FILES $PER_FILE $PER_CHUNK"
if [[ -f $DIR/shape && $(cat "$DIR/shape") == "$shape" && -f $DIR/camp/campaign.json ]]; then
  echo "reusing $DIR ($shape)"
  "$BENCH" "$DIR" --time-only
else
  "$BENCH" "$DIR" "$FILES" "$PER_FILE" "$PER_CHUNK"
  echo "$shape" >"$DIR/shape"
fi
echo "journals: $(du -sh "$DIR/camp/chunks" | cut -f1) in $(find "$DIR/camp/chunks" -name 'journal-*' | wc -l) files;" \
  "$(find "$DIR/camp/chunks" -name 'tracks-*.h5' | wc -l) tracks files; $(nproc) cores"
for sub in status verify; do
  # The exit code is the campaign's (4: done with some failed events), not the timing's.
  start=$(date +%s.%N)
  rc=0
  "$BUILD/trkaas" campaign "$sub" "$DIR/camp" >"$DIR/$sub.txt" 2>&1 || rc=$?
  end=$(date +%s.%N)
  printf 'trkaas campaign %-6s %6.2f s (exit code %d): %s\n' "$sub" "$(echo "$end - $start" | bc)" "$rc" \
    "$(grep -E '^total:' "$DIR/$sub.txt")"
done
grep -E '^verify:' "$DIR/verify.txt"

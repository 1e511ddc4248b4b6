#!/usr/bin/env bash
# The validate benchmark (docs/benchmarks.md): generate large synthetic QRadar content
# exports (examples/gen_export.rs; every cross reference resolves, so `qrpack validate`
# must report no error), then for each one time `unzip -p FILE > /dev/null` (the floor: just
# inflating the archive) and `qrpack validate FILE`, min of RUNS, with peak RSS, and print a
# Markdown table. The 100 MiB export beside the 500 MiB one shows whether memory grows
# with the size of the input (it should not: validate is meant to stream).
#
#   scripts/bench-validate.sh                    # 500 and 100 MiB of content XML, 3 runs
#   SIZES="2000 500 100" RUNS=5 SEED=7 scripts/bench-validate.sh
#   VALIDATE_ARGS="--format json" scripts/bench-validate.sh
#   QRPACK=/usr/local/bin/qrpack scripts/bench-validate.sh   # time another qrpack binary
#
# Exports are cached in $QRPACK_BENCH_DIR (default: $TMPDIR/qrpack-bench-validate), named
# by size, seed and a hash of the generator's source, and reused when present. Sizes are
# MiB of uncompressed content XML; the zip is about a tenth of that.
#
# Needs bash, cargo, coreutils, awk and unzip. Optional: GNU time at /usr/bin/time (peak
# RSS). On Debian/Ubuntu: apt-get install -y time unzip
# If this build of qrpack has no `validate` yet, the script says so and still times
# generation and unzip.
# Exit status: 0 done, 1 a tool failed or validate reported errors (exit 1) on an export
# that has none.
set -euo pipefail
export LC_ALL=C

SIZES=${SIZES:-"500 100"}
SEED=${SEED:-1}
RUNS=${RUNS:-3}
VALIDATE_ARGS=${VALIDATE_ARGS:-}
BENCH_DIR=${QRPACK_BENCH_DIR:-${TMPDIR:-/tmp}/qrpack-bench-validate}

cd "$(dirname "${BASH_SOURCE[0]}")/.."

die() {
    echo "bench-validate: $*" >&2
    exit 1
}
note() { echo "bench-validate: $*" >&2; }

command -v unzip >/dev/null || die "unzip is not installed (apt-get install -y unzip)"

GNU_TIME=
if [[ -x /usr/bin/time ]] && /usr/bin/time -v -o /dev/null true 2>/dev/null; then
    GNU_TIME=/usr/bin/time
else
    note "no GNU time at /usr/bin/time: peak RSS will not be measured (apt-get install -y time)"
fi

note "building qrpack and the export generator (release)..."
cargo build --release --quiet --bin qrpack --example gen_export
BIN=${QRPACK:-$PWD/target/release/qrpack}
GEN=$PWD/target/release/examples/gen_export

HAVE_VALIDATE=1
if ! "$BIN" validate --help >/dev/null 2>&1; then
    HAVE_VALIDATE=0
    echo "validate: not available in this build"
fi

mkdir -p "$BENCH_DIR"
GEN_HASH=$(sha256sum examples/gen_export.rs | cut -c1-12)

# Run "$@" once: sets WALL (seconds, ns resolution) and RSS (peak KiB, or "n/a"); the
# command's stdout goes to $OUT_TO, stderr to $ERR_TO; returns its exit status.
OUT_TO=/dev/null
ERR_TO=/dev/null
measure() {
    local t0 t1 status=0 tv
    tv=$(mktemp "$BENCH_DIR/time.XXXXXX")
    t0=$(date +%s%N)
    if [[ -n $GNU_TIME ]]; then
        "$GNU_TIME" -v -o "$tv" "$@" >"$OUT_TO" 2>"$ERR_TO" || status=$?
    else
        "$@" >"$OUT_TO" 2>"$ERR_TO" || status=$?
    fi
    t1=$(date +%s%N)
    WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    RSS=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tv")
    [[ -n $RSS ]] || RSS=n/a
    rm -f "$tv"
    return "$status"
}

# min of RUNS wall times; max of their peak RSS. Sets MIN_WALL, MAX_RSS, LAST_STATUS.
repeat() {
    local i
    MIN_WALL=
    MAX_RSS=n/a
    LAST_STATUS=0
    for ((i = 1; i <= RUNS; i++)); do
        measure "$@" || LAST_STATUS=$?
        if [[ -z $MIN_WALL ]] || awk -v a="$WALL" -v b="$MIN_WALL" 'BEGIN { exit !(a < b) }'; then
            MIN_WALL=$WALL
        fi
        if [[ $RSS != n/a ]] && { [[ $MAX_RSS == n/a ]] || ((RSS > MAX_RSS)); }; then
            MAX_RSS=$RSS
        fi
    done
}

mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
rss_mib() { [[ $1 == n/a ]] && echo n/a || awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }

ROWS_MD=()
FAILED=0
for SIZE in $SIZES; do
    FILE=$BENCH_DIR/export-${SIZE}mib-seed${SEED}-gen${GEN_HASH}.zip
    LOG=$FILE.log
    if [[ -f $FILE && -f $LOG ]]; then
        note "reusing $FILE"
        GEN_WALL=$(awk '/^gen-wall / { print $2 }' "$LOG")
        GEN_RSS=$(awk '/^gen-rss / { print $2 }' "$LOG")
        GEN_NOTE=" (cached)"
    else
        note "generating $SIZE MiB of content XML (seed $SEED) into $FILE ..."
        ERR_TO=$LOG.tmp
        measure "$GEN" "$FILE" --size-mb "$SIZE" --seed "$SEED" || {
            cat "$LOG.tmp" >&2
            die "gen_export failed"
        }
        ERR_TO=/dev/null
        { cat "$LOG.tmp"; echo "gen-wall $WALL"; echo "gen-rss $RSS"; } >"$LOG"
        rm -f "$LOG.tmp"
        GEN_WALL=$WALL
        GEN_RSS=$RSS
        GEN_NOTE=
    fi
    XML_BYTES=$(awk '/content XML [0-9]+ bytes/ { for (i = 1; i <= NF; i++) if ($i == "XML") print $(i + 1) }' "$LOG")
    ROWS=$(awk '$1 == "rows:" { print $2 }' "$LOG")
    ZIP_BYTES=$(stat -c %s "$FILE")

    note "unzip -p, $RUNS runs..."
    unzip -p "$FILE" >/dev/null # warm the page cache
    repeat unzip -p "$FILE"
    [[ $LAST_STATUS == 0 ]] || die "unzip -p $FILE failed"
    UNZIP_WALL=$MIN_WALL
    UNZIP_RSS=$MAX_RSS

    VAL_WALL=n/a VAL_RSS=n/a RATIO=n/a VAL_EXIT=n/a
    if [[ $HAVE_VALIDATE == 1 ]]; then
        note "qrpack validate, $RUNS runs..."
        ERR_TO=$BENCH_DIR/validate-$SIZE.err
        # shellcheck disable=SC2086 # VALIDATE_ARGS is a word list on purpose
        repeat "$BIN" --color never validate $VALIDATE_ARGS "$FILE"
        ERR_TO=/dev/null
        VAL_EXIT=$LAST_STATUS
        VAL_WALL=$MIN_WALL
        VAL_RSS=$(rss_mib "$MAX_RSS")
        RATIO=$(awk -v v="$VAL_WALL" -v u="$UNZIP_WALL" 'BEGIN { printf "%.1f×", v / u }')
        if [[ $VAL_EXIT != 0 ]]; then
            note "qrpack validate exited $VAL_EXIT on $FILE (expected 0); its stderr ends with:"
            tail -n 20 "$BENCH_DIR/validate-$SIZE.err" >&2
            FAILED=1
        fi
        VAL_WALL="$VAL_WALL s"
    fi

    ROWS_MD+=("| $SIZE | $(mib "$XML_BYTES") | $(mib "$ZIP_BYTES") | $ROWS | $GEN_WALL s$GEN_NOTE | $(rss_mib "$GEN_RSS") | $UNZIP_WALL s | $(rss_mib "$UNZIP_RSS") | $VAL_WALL | $VAL_RSS | $RATIO | $VAL_EXIT |")
done

echo
echo "## qrpack validate benchmark"
echo
echo "$(date -u +%Y-%m-%dT%H:%MZ), $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo '+dirty'), $(nproc) CPU ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo '?')), seed $SEED, min of $RUNS runs, warm page cache"
echo
echo "| target (MiB) | content XML (MiB) | zip (MiB) | rows | generate | generate peak RSS | unzip -p | unzip peak RSS | validate | validate peak RSS | validate / unzip | validate exit |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${ROWS_MD[@]}"
echo
[[ $HAVE_VALIDATE == 1 ]] || echo "validate: not available in this build"
exit "$FAILED"

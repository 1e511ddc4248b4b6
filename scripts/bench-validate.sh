#!/usr/bin/env bash
# The validate benchmark (docs/benchmarks.md): generate large synthetic QRadar content
# exports (examples/gen_export.rs; every cross reference resolves, so `qrpack validate`
# must report no error), then for each one time `unzip -p FILE > /dev/null` (the yardstick:
# just inflating the archive) and `qrpack validate FILE`, RUNS times each, interleaved
# (unzip, validate, unzip, validate, ...) so that both see the same machine, and print
# Markdown tables: wall and CPU (user + sys) time of every run, their minimum and median,
# the validate/unzip ratios, and peak RSS. Exports of several sizes show whether memory
# grows with the size of the input (it should not: validate streams, and its indexes go to
# a temporary file past a fixed budget).
#
#   scripts/bench-validate.sh                    # 100, 500 and 1024 MiB of content XML, 5 runs
#   SIZES="500" RUNS=9 SEED=7 scripts/bench-validate.sh
#   WAIT_IDLE=600 scripts/bench-validate.sh      # first wait (up to 600 s) for a quiet machine
#   VALIDATE_ARGS="--format json" scripts/bench-validate.sh
#   QRPACK=/usr/local/bin/qrpack scripts/bench-validate.sh   # time another qrpack binary
#
# qrpack validate uses up to three threads (inflate, parse, check); on a machine other work
# keeps busy it gets a share of the cores like any other process, so its wall time then
# follows its CPU time. The table says how many cores other processes used during the runs.
#
# Exports are cached in $QRPACK_BENCH_DIR (default: $TMPDIR/qrpack-bench-validate), named
# by size, seed and a hash of the generator's source, and reused when present. Sizes are
# MiB of uncompressed content XML; the zip is about a tenth of that.
#
# Needs bash, cargo, coreutils, awk and unzip. Optional: GNU time at /usr/bin/time (CPU time
# and peak RSS). On Debian/Ubuntu: apt-get install -y time unzip
# If this build of qrpack has no `validate` yet, the script says so and still times
# generation and unzip.
# Exit status: 0 done, 1 a tool failed or validate reported errors (exit 1) on an export
# that has none.
set -euo pipefail
export LC_ALL=C

SIZES=${SIZES:-"100 500 1024"}
SEED=${SEED:-1}
RUNS=${RUNS:-5}
VALIDATE_ARGS=${VALIDATE_ARGS:-}
BENCH_DIR=${QRPACK_BENCH_DIR:-${TMPDIR:-/tmp}/qrpack-bench-validate}

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BENCH=bench-validate # the name bench-lib.sh's messages start with
# shellcheck source=bench-lib.sh
source scripts/bench-lib.sh

note() { echo "bench-validate: $*" >&2; }

command -v unzip >/dev/null || die "unzip is not installed (apt-get install -y unzip)"

GNU_TIME=
if [[ -x /usr/bin/time ]] && /usr/bin/time -f %M -o /dev/null true 2>/dev/null; then
    GNU_TIME=/usr/bin/time
else
    note "no GNU time at /usr/bin/time: CPU time and peak RSS will not be measured (apt-get install -y time)"
fi

REV=$(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo '+dirty')
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

# Run "$@" once: sets WALL (s), CPU (user + sys, s, or "n/a") and RSS (peak KiB, or "n/a");
# the command's stdout goes to $OUT_TO, stderr to $ERR_TO; returns its exit status.
OUT_TO=/dev/null
ERR_TO=/dev/null
measure() {
    local t0 t1 status=0 tv
    tv=$(mktemp "$BENCH_DIR/time.XXXXXX")
    t0=$(date +%s%N)
    if [[ -n $GNU_TIME ]]; then
        "$GNU_TIME" -f '%U %S %M' -o "$tv" "$@" >"$OUT_TO" 2>"$ERR_TO" || status=$?
    else
        "$@" >"$OUT_TO" 2>"$ERR_TO" || status=$?
    fi
    t1=$(date +%s%N)
    WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    # GNU time writes "Command exited with non-zero status N" first when it fails.
    CPU=$(awk 'NF == 3 { printf "%.2f", $1 + $2 }' "$tv")
    RSS=$(awk 'NF == 3 { print $3 }' "$tv")
    [[ -n $CPU ]] || CPU=n/a
    [[ -n $RSS ]] || RSS=n/a
    rm -f "$tv"
    return "$status"
}

# min and median of the numbers on stdin
minmed() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) { print "n/a n/a"; exit } m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%s %.3f\n", v[1], m }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
rss_mib() { [[ $1 == n/a ]] && echo n/a || awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
ratio() { awk -v v="$1" -v u="$2" 'BEGIN { if (v == "n/a" || u == "n/a" || u == 0) print "n/a"; else printf "%.2f×", v / u }'; }

SUMMARY=()
RUNS_MD=()
FAILED=0
for SIZE in $SIZES; do
    FILE=$BENCH_DIR/export-${SIZE}mib-seed${SEED}-gen${GEN_HASH}.zip
    LOG=$FILE.log
    if [[ -f $FILE && -f $LOG ]]; then
        note "reusing $FILE"
        GEN_WALL=$(awk '/^gen-wall / { print $2 }' "$LOG")
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
        GEN_NOTE=
    fi
    XML_BYTES=$(awk '/content XML [0-9]+ bytes/ { for (i = 1; i <= NF; i++) if ($i == "XML") print $(i + 1) }' "$LOG")
    ROWS=$(awk '$1 == "rows:" { print $2 }' "$LOG")
    ZIP_BYTES=$(stat -c %s "$FILE")

    unzip -p "$FILE" >/dev/null # warm the page cache
    wait_idle bench-validate
    note "$SIZE MiB: unzip -p and qrpack validate, $RUNS runs each, interleaved..."
    LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)
    BUSY0=$(machine_busy)
    MINE0=$(children_cpu)
    T0=$(date +%s%N)
    : >"$BENCH_DIR/u.wall" && : >"$BENCH_DIR/u.cpu" && : >"$BENCH_DIR/v.wall" && : >"$BENCH_DIR/v.cpu" && : >"$BENCH_DIR/pair.ratio"
    U_RSS=n/a
    V_RSS=n/a
    VAL_EXIT=n/a
    for ((i = 1; i <= RUNS; i++)); do
        measure unzip -p "$FILE" || die "unzip -p $FILE failed"
        echo "$WALL" >>"$BENCH_DIR/u.wall"
        [[ $CPU == n/a ]] || echo "$CPU" >>"$BENCH_DIR/u.cpu"
        U_RSS=$RSS
        UW=$WALL
        UC=$CPU
        VW=n/a
        VC=n/a
        if [[ $HAVE_VALIDATE == 1 ]]; then
            ERR_TO=$BENCH_DIR/validate-$SIZE.err
            VAL_EXIT=0
            # shellcheck disable=SC2086 # VALIDATE_ARGS is a word list on purpose
            measure "$BIN" --color never validate $VALIDATE_ARGS "$FILE" || VAL_EXIT=$?
            ERR_TO=/dev/null
            echo "$WALL" >>"$BENCH_DIR/v.wall"
            [[ $CPU == n/a ]] || echo "$CPU" >>"$BENCH_DIR/v.cpu"
            awk -v v="$WALL" -v u="$UW" 'BEGIN { printf "%.4f\n", v / u }' >>"$BENCH_DIR/pair.ratio"
            if [[ $RSS != n/a ]] && { [[ $V_RSS == n/a ]] || ((RSS > V_RSS)); }; then
                V_RSS=$RSS
            fi
            VW=$WALL
            VC=$CPU
            if [[ $VAL_EXIT != 0 ]]; then
                note "qrpack validate exited $VAL_EXIT on $FILE (expected 0); its stderr ends with:"
                tail -n 20 "$BENCH_DIR/validate-$SIZE.err" >&2
                FAILED=1
            fi
        fi
        RUNS_MD+=("| $SIZE | $i | $UW | $UC | $VW | $VC | $(ratio "$VW" "$UW") |")
    done
    T1=$(date +%s%N)
    BUSY1=$(machine_busy)
    MINE1=$(children_cpu)
    OTHERS=$(other_cores "$BUSY0" "$BUSY1" "$MINE0" "$MINE1" "$((T1 - T0))")
    read -r UW_MIN UW_MED < <(minmed <"$BENCH_DIR/u.wall")
    read -r UC_MIN UC_MED < <(minmed <"$BENCH_DIR/u.cpu")
    read -r VW_MIN VW_MED < <(minmed <"$BENCH_DIR/v.wall")
    read -r VC_MIN VC_MED < <(minmed <"$BENCH_DIR/v.cpu")
    read -r _ PAIR_MED < <(minmed <"$BENCH_DIR/pair.ratio")
    THROUGHPUT=$(awk -v b="$XML_BYTES" -v s="$VW_MIN" 'BEGIN { if (s == "n/a" || s == 0) print "n/a"; else printf "%.0f MiB/s", b / 1048576 / s }')
    SUMMARY+=("| $SIZE | $(mib "$XML_BYTES") | $(mib "$ZIP_BYTES") | $ROWS | $GEN_WALL s$GEN_NOTE | $UW_MIN / $UW_MED | $UC_MIN / $UC_MED | $VW_MIN / $VW_MED | $VC_MIN / $VC_MED | $(ratio "$VW_MIN" "$UW_MIN") / $(ratio "$VW_MED" "$UW_MED") | ${PAIR_MED}× | $(ratio "$VC_MED" "$UC_MED") | $THROUGHPUT | $(rss_mib "$U_RSS") | $(rss_mib "$V_RSS") | $VAL_EXIT | $LOAD_BEFORE | $OTHERS |")
done
rm -f "$BENCH_DIR"/{u,v}.{wall,cpu} "$BENCH_DIR/pair.ratio"

echo
echo "## qrpack validate benchmark"
echo
echo "$(date -u +%Y-%m-%dT%H:%MZ), $REV, $(nproc) CPU ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo '?')), seed $SEED, $RUNS interleaved runs each, warm page cache. Times in seconds, min / median; CPU is user + sys; \"pairs\" is the median of validate/unzip over back-to-back runs; \"others\" is how many cores other processes used meanwhile (0 = quiet machine)."
echo
echo "| target (MiB) | content XML (MiB) | zip (MiB) | rows | generate | unzip -p wall | unzip -p CPU | validate wall | validate CPU | wall ratio | pairs | CPU ratio | validate throughput (min wall) | unzip peak RSS | validate peak RSS | validate exit | load avg before | others (cores) |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"
printf '%s\n' "${SUMMARY[@]}"
echo
echo "| target (MiB) | run | unzip wall | unzip CPU | validate wall | validate CPU | wall ratio |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${RUNS_MD[@]}"
echo
[[ $HAVE_VALIDATE == 1 ]] || echo "validate: not available in this build"
exit "$FAILED"

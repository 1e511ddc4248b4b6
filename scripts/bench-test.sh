#!/usr/bin/env bash
# The `test` benchmark (docs/benchmarks.md, section "test"): generate COUNT Entra ID
# diagnostic-settings records (examples/gen_events.rs), run them through the default pack
# (`qrpack test PACK --events FILE`: mapping, every property, every rule and the search)
# RUNS times pinned to one core, and print a Markdown summary: events per second by the
# median wall time and by the median CPU time, min/max, peak RSS for the whole file and for
# one record (memory must be flat), the load other processes put on the machine, and
# whether every run printed the same summary. Optionally (INSTRUCTIONS=1) the instructions
# per record by callgrind, which do not drift with the VM's speed as wall times do.
#
#   scripts/bench-test.sh                                # 7 runs over 1,000,000 records
#   EVENTS_FILE=/tmp/ev1m.ndjson scripts/bench-test.sh   # reuse a generated file
#   RUNS=16 CORE=0 scripts/bench-test.sh                 # more runs, pinned to core 0
#   COUNT=100000 INSTRUCTIONS=1 scripts/bench-test.sh    # smaller file, plus callgrind
#   WAIT_IDLE=600 scripts/bench-test.sh                  # first wait for a quiet machine
#
# Needs bash, cargo, coreutils and awk. Optional: GNU time at /usr/bin/time (CPU time and
# peak RSS), taskset (pinning; without it the runs are not pinned and the table says so),
# valgrind (INSTRUCTIONS=1). A generated file is 1.8 GB per million records and is
# deleted at exit unless it was given as EVENTS_FILE.
# Exit status: 0 done (whether or not the target is met), 1 a run failed or runs differed.
set -euo pipefail
export LC_ALL=C

RUNS=${RUNS:-7}
COUNT=${COUNT:-1000000}
CORE=${CORE:-1}
TARGET=${TARGET:-300000}
PACK=${PACK:-qid-maps/entra-id-cloud-credentials.toml}
INSTRUCTIONS=${INSTRUCTIONS:-0}

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BENCH=bench-test # the name bench-lib.sh's messages start with
# shellcheck source=bench-lib.sh
source scripts/bench-lib.sh

REV=$(revision)

echo "bench-test: building qrpack and the event generator (release)..." >&2
cargo build --release --quiet --bin qrpack --example gen_events
WORK=$(mktemp -d "${TMPDIR:-/tmp}/qrpack-bench-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# A private copy: a cargo build running beside the benchmark cannot swap the binary.
cp target/release/qrpack "$WORK/"
BIN=$WORK/qrpack

if [[ -n ${EVENTS_FILE:-} ]]; then
    [[ -s $EVENTS_FILE ]] || die "EVENTS_FILE '$EVENTS_FILE' is missing or empty"
    EVENTS=$EVENTS_FILE
else
    EVENTS=$WORK/events.ndjson
    echo "bench-test: generating $COUNT records..." >&2
    target/release/examples/gen_events "$EVENTS" --count "$COUNT" >&2
fi
RECORDS=$(wc -l <"$EVENTS" | tr -d ' ')
BYTES=$(wc -c <"$EVENTS" | tr -d ' ')
[[ $RECORDS -gt 0 ]] || die "no records in $EVENTS"
head -n 1 "$EVENTS" >"$WORK/one.ndjson"

PIN=()
PINNED="no (taskset not found)"
if command -v taskset >/dev/null && taskset -c "$CORE" true 2>/dev/null; then
    PIN=(taskset -c "$CORE")
    PINNED="yes, core $CORE"
fi
GNU_TIME=
if [[ -x /usr/bin/time ]] && /usr/bin/time -f %M -o /dev/null true 2>/dev/null; then
    GNU_TIME=/usr/bin/time
fi

# One run: wall (µs) to times.us; user, sys and RSS (KiB) to cpu.txt; the summary it
# printed to out.N.
run() { # N FILE
    local t0 t1
    t0=$(date +%s%N)
    if [[ -n $GNU_TIME ]]; then
        "$GNU_TIME" -f '%U %S %M' -o "$WORK/time.$1" "${PIN[@]}" "$BIN" --color never -q test "$PACK" --events "$2" >"$WORK/out.$1" ||
            die "run $1 failed (exit $?): $(head -c 2000 "$WORK/out.$1")"
    else
        "${PIN[@]}" "$BIN" --color never -q test "$PACK" --events "$2" >"$WORK/out.$1" ||
            die "run $1 failed (exit $?)"
    fi
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000)) >>"$WORK/times.us"
    [[ -n $GNU_TIME ]] && cat "$WORK/time.$1" >>"$WORK/cpu.txt"
    return 0
}

# Memory for one record (the floor: start-up, pack, regexes).
: >"$WORK/times.us"
: >"$WORK/cpu.txt"
run one "$WORK/one.ndjson"
RSS_ONE=n/a
[[ -n $GNU_TIME ]] && RSS_ONE=$(awk '{ printf "%.1f MiB", $3 / 1024 }' "$WORK/cpu.txt")
# Warm-up: the page cache.
run warm "$EVENTS"
: >"$WORK/times.us"
: >"$WORK/cpu.txt"

wait_idle bench-test

echo "bench-test: $RUNS timed runs over $RECORDS records..." >&2
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)
BUSY0=$(machine_busy)
MINE0=$(children_cpu)
WALL0=$(date +%s%N)
SAME=yes
for ((i = 1; i <= RUNS; i++)); do
    run "$i" "$EVENTS"
    if ! cmp -s "$WORK/out.1" "$WORK/out.$i"; then
        SAME=no
        echo "bench-test: run $i printed a different summary from run 1" >&2
    fi
done
WALL1=$(date +%s%N)
BUSY1=$(machine_busy)
MINE1=$(children_cpu)
OTHERS=$(other_cores "$BUSY0" "$BUSY1" "$MINE0" "$MINE1" "$((WALL1 - WALL0))")

# min / median / max of column COL of FILE.
stats() { # FILE COL
    awk -v c="$2" '{ print $c }' "$1" | sort -g | awk '
        { v[NR] = $1 }
        END { med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print v[1], med, v[NR] }'
}
read -r W_MIN W_MED W_MAX < <(stats "$WORK/times.us" 1)
rate() { awk -v n="$RECORDS" -v t="$1" 'BEGIN { printf "%d", n / t }'; }
secs() { awk -v t="$1" 'BEGIN { printf "%.3f", t / 1e6 }'; }
RATE_MED=$(rate "$(secs "$W_MED")")
RATE_BEST=$(rate "$(secs "$W_MIN")")
RATE_WORST=$(rate "$(secs "$W_MAX")")
ALL=$(awk '{ printf "%s%.2f", (NR > 1 ? " " : ""), $1 / 1e6 }' "$WORK/times.us")
AT_TARGET=$(awk -v n="$RECORDS" -v t="$TARGET" '{ if (n / ($1 / 1e6) >= t) k++ } END { print k + 0 }' "$WORK/times.us")
CPU_LINE="unavailable (install GNU time)"
RSS="unavailable (install GNU time)"
if [[ -n $GNU_TIME ]]; then
    awk '{ print $1 + $2 }' "$WORK/cpu.txt" >"$WORK/cpu.s"
    read -r C_MIN C_MED C_MAX < <(stats "$WORK/cpu.s" 1)
    read -r U_MIN U_MED U_MAX < <(stats "$WORK/cpu.txt" 1)
    read -r S_MIN S_MED S_MAX < <(stats "$WORK/cpu.txt" 2)
    read -r R_MIN R_MED R_MAX < <(stats "$WORK/cpu.txt" 3)
    CPU_LINE="median $C_MED s (user $U_MED, sys $S_MED) = **$(rate "$C_MED") events/s** of CPU; min $C_MIN s, max $C_MAX s"
    RSS=$(awk -v a="$R_MIN" -v b="$R_MAX" 'BEGIN { printf "%.1f–%.1f MiB", a / 1024, b / 1024 }')
fi
MET=$(awk -v r="$RATE_MED" -v t="$TARGET" 'BEGIN { print (r >= t) ? "met" : "missed" }')

INSTR=
if [[ $INSTRUCTIONS == 1 ]]; then
    if command -v valgrind >/dev/null; then
        echo "bench-test: callgrind over 10,000 records and over one..." >&2
        head -n 10000 "$EVENTS" >"$WORK/ten.ndjson"
        N10=$(wc -l <"$WORK/ten.ndjson" | tr -d ' ')
        refs() {
            valgrind --tool=callgrind --callgrind-out-file=/dev/null "$BIN" -q test "$PACK" --events "$1" 2>&1 >/dev/null |
                awk '/refs:/ { gsub(",", "", $NF); print $NF }'
        }
        I10=$(refs "$WORK/ten.ndjson")
        I1=$(refs "$WORK/one.ndjson")
        INSTR=$(awk -v a="$I10" -v b="$I1" -v n="$N10" 'BEGIN { printf "%d", (a - b) / (n - 1) }')
    else
        INSTR="unavailable (install valgrind)"
    fi
fi

CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)
cat <<EOF

### qrpack test benchmark — $(date -u +%Y-%m-%dT%H:%M:%SZ)

| | |
|---|---|
| machine | $(nproc) CPUs, $CPU; pinned: $PINNED |
| other load | load average before $LOAD_BEFORE; other processes used **$OTHERS cores** during the runs (0 = quiet machine) |
| toolchain | $(rustc --version) |
| qrpack | $REV, pack \`$PACK\` |
| events | $RECORDS records, $BYTES bytes ($(basename "$EVENTS")) |
| wall, $RUNS runs | min $(secs "$W_MIN") s, **median $(secs "$W_MED") s**, max $(secs "$W_MAX") s |
| each run (s) | $ALL |
| events/s by wall | **median $RATE_MED** (best $RATE_BEST, worst $RATE_WORST); $AT_TARGET of $RUNS runs at or above $TARGET |
| CPU | $CPU_LINE |
| peak RSS | $RSS over the file; $RSS_ONE for one record |
| same output | every run printed the same summary: $SAME |
| instructions | ${INSTR:-not counted (INSTRUCTIONS=1 counts them with callgrind)}${INSTR:+ per record (callgrind: 10,000 records minus one, divided)} |
| target | median ≥ $TARGET events/s on one core: **$MET** |
EOF

[[ $SAME == yes ]] || exit 1

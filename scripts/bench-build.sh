#!/usr/bin/env bash
# The build benchmark (docs/benchmarks.md): generate a pack of 10,000 events, 2,000 rules
# and 500 properties (examples/gen_pack.rs), build it once to write qrpack.lock (warm-up),
# then time RUNS builds of the same pack and print a Markdown summary: wall time
# min/median/max, peak RSS, pack and archive sizes, and whether every timed build wrote
# the same archive bytes.
#
#   scripts/bench-build.sh                      # 10 timed runs of the default pack
#   RUNS=20 EVENTS=1000 RULES=200 PROPERTIES=50 scripts/bench-build.sh
#   KEEP=1 scripts/bench-build.sh               # keep the temporary folder, print its path
#   WAIT_IDLE=600 scripts/bench-build.sh        # first wait (up to 600 s) for a quiet machine
#
# Needs bash, cargo, coreutils (date, sha256sum, sort, mktemp) and awk. Optional: GNU
# time at /usr/bin/time (peak RSS), hyperfine (a second timing), unzip (content size).
# Exit status: 0 done (whether or not the target is met), 1 the build failed, warned or
# was not reproducible.
set -euo pipefail
export LC_ALL=C

RUNS=${RUNS:-10}
EVENTS=${EVENTS:-10000}
RULES=${RULES:-2000}
PROPERTIES=${PROPERTIES:-500}
TARGET_S=${TARGET_S:-0.25}
KEEP=${KEEP:-0}

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BENCH=bench-build # the name bench-lib.sh's messages start with
# shellcheck source=bench-lib.sh
source scripts/bench-lib.sh

# The revision being measured: taken before the build.
REV=$(revision)

echo "bench-build: building qrpack and the pack generator (release)..." >&2
cargo build --release --quiet --bin qrpack --example gen_pack
WORK=$(mktemp -d "${TMPDIR:-/tmp}/qrpack-bench.XXXXXX")
if [[ $KEEP == 1 ]]; then
    echo "bench-build: keeping $WORK" >&2
else
    trap 'rm -rf "$WORK"' EXIT
fi
# Private copies: a cargo build running beside the benchmark cannot swap the binary.
cp target/release/qrpack target/release/examples/gen_pack "$WORK/"
BIN=$WORK/qrpack
GEN=$WORK/gen_pack

"$GEN" "$WORK" --events "$EVENTS" --rules "$RULES" --properties "$PROPERTIES" >&2
PACK=$WORK/pack.toml
OUT=$WORK/out

# GNU time (for peak RSS), when installed: it must understand -f.
GNU_TIME=
if [[ -x /usr/bin/time ]] && /usr/bin/time -f %M -o /dev/null true 2>/dev/null; then
    GNU_TIME=/usr/bin/time
fi

# Warm-up: the first build allocates every QID and writes qrpack.lock beside the pack;
# it also warms the page cache. It must succeed with no finding at all.
echo "bench-build: warm-up build (writes qrpack.lock)..." >&2
if ! "$BIN" --color never build "$PACK" -o "$OUT" --format json >"$WORK/report.json" 2>"$WORK/warmup.err"; then
    cat "$WORK/warmup.err" >&2
    die "the warm-up build failed"
fi
[[ -s $WORK/warmup.err ]] && { cat "$WORK/warmup.err" >&2; die "the warm-up build printed findings"; }
grep -q '"warnings": \[\]' "$WORK/report.json" || die "the warm-up build reported warnings"
ARCHIVE=$(sed -n 's/^  "archive": "\(.*\)",$/\1/p' "$WORK/report.json")
[[ -f $ARCHIVE ]] || die "no archive at '$ARCHIVE'"
count() { sed -n "s/^    \"$1\": \([0-9]*\),\{0,1\}$/\1/p" "$WORK/report.json"; }
WARMUP_SHA=$(sha256sum "$ARCHIVE" | cut -d' ' -f1)

wait_idle bench-build

# Timed runs: same pack, same lock (unchanged from now on), same output folder.
echo "bench-build: $RUNS timed builds..." >&2
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)
BUSY0=$(machine_busy)
MINE0=$(children_cpu)
WALL0=$(date +%s%N)
: >"$WORK/times.ms"
: >"$WORK/rss.kb"
FIRST_SHA=
IDENTICAL=yes
for ((i = 1; i <= RUNS; i++)); do
    if [[ -n $GNU_TIME ]]; then
        t0=$(date +%s%N)
        "$GNU_TIME" -f %M -o "$WORK/rss.$i" "$BIN" --color never -q build "$PACK" -o "$OUT"
        t1=$(date +%s%N)
        cat "$WORK/rss.$i" >>"$WORK/rss.kb"
    else
        t0=$(date +%s%N)
        "$BIN" --color never -q build "$PACK" -o "$OUT"
        t1=$(date +%s%N)
    fi
    echo $(((t1 - t0) / 1000)) >>"$WORK/times.ms" # microseconds, despite the name
    sha=$(sha256sum "$ARCHIVE" | cut -d' ' -f1)
    if [[ -z $FIRST_SHA ]]; then
        FIRST_SHA=$sha
    elif [[ $sha != "$FIRST_SHA" ]]; then
        IDENTICAL=no
        echo "bench-build: run $i wrote a different archive ($sha, first timed run $FIRST_SHA)" >&2
    fi
done

WALL1=$(date +%s%N)
BUSY1=$(machine_busy)
MINE1=$(children_cpu)
# Other processes' share of the machine during the timed runs, in cores (0 = idle box).
OTHERS=$(other_cores "$BUSY0" "$BUSY1" "$MINE0" "$MINE1" "$((WALL1 - WALL0))")
MINE_S=$(awk -v m="$((MINE1 - MINE0))" -v hz="$HZ" -v n="$RUNS" 'BEGIN { printf "%.3f", m / hz / n }')
if awk -v o="$OTHERS" 'BEGIN { exit !(o > 0.2) }'; then
    echo "bench-build: other processes kept $OTHERS cores busy during the timed runs: figures are not clean" >&2
fi

# min / median / max of a file of integers, printed with a divisor and decimals.
stats() { # FILE DIVISOR DECIMALS
    sort -n "$1" | awk -v d="$2" -v p="$3" '
        { v[NR] = $1 }
        END {
            if (NR == 0) { print "n/a n/a n/a"; exit }
            med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%.*f %.*f %.*f\n", p, v[1] / d, p, med / d, p, v[NR] / d
        }'
}
read -r T_MIN T_MED T_MAX < <(stats "$WORK/times.ms" 1000000 3)
ALL_TIMES=$(awk '{ printf "%s%.3f", (NR > 1 ? " " : ""), $1 / 1000000 }' "$WORK/times.ms")
if [[ -n $GNU_TIME ]]; then
    read -r R_MIN R_MED R_MAX < <(stats "$WORK/rss.kb" 1024 1)
    RSS="$R_MAX MiB (min $R_MIN, median $R_MED over the $RUNS runs; GNU time %M)"
else
    RSS="unavailable (install GNU time: apt-get install time)"
fi
MET=$(awk -v m="$T_MED" -v t="$TARGET_S" 'BEGIN { print (m < t) ? "met" : "missed" }')
RATIO=$(awk -v m="$T_MED" -v t="$TARGET_S" 'BEGIN { printf "%.1f", m / t }')

size() { wc -c <"$1" | tr -d ' '; }
mib() { awk -v b="$1" 'BEGIN { printf "%.2f MiB", b / 1048576 }'; }
PACK_B=$(size "$PACK")
LOCK_B=$(size "$WORK/qrpack.lock")
ARCHIVE_B=$(size "$ARCHIVE")
CONTENT=
if command -v unzip >/dev/null; then
    CONTENT_B=$(unzip -l "$ARCHIVE" | awk '/\.xml$/ { s += $1 } END { print s + 0 }')
    CONTENT="$CONTENT_B bytes ($(mib "$CONTENT_B")) uncompressed content XML"
fi

HYPERFINE=
if command -v hyperfine >/dev/null; then
    echo "bench-build: hyperfine cross-check..." >&2
    hyperfine --style none --warmup 1 --runs "$RUNS" \
        --export-json "$WORK/hyperfine.json" \
        "$BIN --color never -q build '$PACK' -o '$OUT'" >/dev/null 2>&1 || true
    if [[ -s $WORK/hyperfine.json ]]; then
        HYPERFINE=$(awk -F'[:,]' '
            /"mean"/   { mean = $2 } /"stddev"/ { sd = $2 } /"median"/ { med = $2 }
            /"min"/    { min = $2 }  /"max"/    { max = $2 }
            END { printf "mean %.3f s ± %.3f, median %.3f s, min %.3f s, max %.3f s", mean, sd, med, min, max }' \
            "$WORK/hyperfine.json")
    fi
fi

CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)
MEM=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || echo unknown)
cat <<EOF

### qrpack build benchmark — $(date -u +%Y-%m-%dT%H:%M:%SZ)

| | |
|---|---|
| machine | $(nproc) CPUs, $CPU, $MEM |
| other load | load average before the timed runs $LOAD_BEFORE; other processes used **$OTHERS cores** during them (0 = quiet machine) |
| toolchain | $(rustc --version) |
| qrpack | $REV |
| pack | $EVENTS events, $RULES rules, $PROPERTIES properties, 5 searches: $PACK_B bytes ($(mib "$PACK_B")); lock $LOCK_B bytes |
| built | $(count events) QIDs, $(count dsm_events) DSM mappings, $(count properties) properties, $(count expressions) expressions, $(count rules) rules, $(count searches) searches |
| archive | $ARCHIVE_B bytes ($(mib "$ARCHIVE_B"))${CONTENT:+; $CONTENT} |
| wall, $RUNS runs | **min $T_MIN s, median $T_MED s, max $T_MAX s** |
| each run (s) | $ALL_TIMES |
| CPU per run | $MINE_S s user+sys (mean) |
| peak RSS | $RSS |
| reproducible | timed runs byte-identical: $IDENTICAL (sha256 $FIRST_SHA); same as the warm-up build: $([[ $WARMUP_SHA == "$FIRST_SHA" ]] && echo yes || echo no) |
| target | median < $TARGET_S s: **$MET** (median is ${RATIO}× the target) |
${HYPERFINE:+| hyperfine | $HYPERFINE |}
EOF

[[ $IDENTICAL == yes ]] || die "the timed builds did not all write the same archive"

# Shared by the benchmark scripts (bench-build.sh, bench-validate.sh, bench-test.sh):
# source it after `cd` to the repository root. It measures the machine, not qrpack.

# CPU time (clock ticks) the whole machine has been busy, and that this shell's waited-for
# children have used: their difference over the timed runs is what other processes took.
machine_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat 2>/dev/null || echo 0; }
children_cpu() { sed 's/.*) //' "/proc/$$/stat" 2>/dev/null | awk '{ print $14 + $15 }' || echo 0; }
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)

# Stop with a message, named by the script ($BENCH, set before sourcing this file).
die() {
    echo "${BENCH:-bench}: $*" >&2
    exit 1
}

# Cores other processes kept busy between two readings: BUSY0 BUSY1 MINE0 MINE1 WALL_NS.
other_cores() {
    awk -v b="$(($2 - $1))" -v m="$(($4 - $3))" -v hz="$HZ" -v w="$5" \
        'BEGIN { o = (b - m) / hz / (w / 1e9); if (o < 0) o = 0; printf "%.2f", o }'
}

# On a shared machine, WAIT_IDLE=SECONDS waits (at most that long) for a second in which
# other processes use less than a tenth of a core before timing. $1 names the script.
wait_idle() {
    [[ ${WAIT_IDLE:-0} -gt 0 ]] || return 0
    echo "$1: waiting up to ${WAIT_IDLE} s for a quiet machine..." >&2
    local deadline=$((SECONDS + WAIT_IDLE)) b0 b1
    while ((SECONDS < deadline)); do
        b0=$(machine_busy)
        sleep 1
        b1=$(machine_busy)
        if awk -v d="$((b1 - b0))" -v hz="$HZ" 'BEGIN { exit !(d / hz < 0.1) }'; then
            return 0
        fi
    done
    echo "$1: the machine did not become quiet" >&2
}

# The revision being measured, from the tree cargo compiles.
revision() {
    local rev
    rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
    if [[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]]; then rev="$rev (with uncommitted changes)"; fi
    echo "$rev"
}

#!/usr/bin/env bash
# iptlint check vs iptables-legacy-restore --test on generated kube-proxy dumps.
#
#   scripts/bench-vs-iptables.sh [SERVICES...]     (default: 1000 10000 40000)
#
# For each size: generates the dump (examples/gen-dump.rs, seed 1), runs a
# release `iptlint check`, `iptlint explain` of the service in the middle of
# the dump (from `iptlint services`) and `iptables-legacy-restore --test` on
# it (from stdin, as `cmd < dump`), RUNS rounds of one run each in turn, and
# prints median wall time, median CPU time (user+sys), their ratios,
# iptlint's peak RSS over the file size, explain's wall time and its ratio
# to the restore's, and the growth of check's wall time from 10k to 40k
# services.
#
# iptables-legacy-restore --test parses and checks the rules in user space (it
# needs root for its netlink socket but commits nothing); it runs inside a
# private network namespace (`unshare -n`) when possible. Without it the
# script still prints iptlint's figures. Environment: RUNS (default 5),
# OUT (work directory, default a temporary one), CARGO_TARGET_DIR.
set -euo pipefail

cd "$(dirname "$0")/.."
runs=${RUNS:-5}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 10000 40000)
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
target=${CARGO_TARGET_DIR:-target}

cargo build --release --quiet --bin iptlint --example gen-dump
iptlint="$target/release/iptlint"
gen="$target/release/examples/gen-dump"

restore=""
if command -v iptables-legacy-restore >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then
        restore="unshare -n iptables-legacy-restore --test"
    elif [ "$(id -u)" = 0 ]; then
        restore="iptables-legacy-restore --test"
    fi
fi
[ -n "$restore" ] || echo "note: iptables-legacy-restore (as root) not available; timing iptlint only" >&2

calc() { awk "BEGIN { print $* }"; }

# Time the commands "$@" on input $1 in rounds: each round runs every
# command once, in turn, after one untimed round (the page cache). The
# guest's speed drifts over minutes (another guest shares the host), so
# running one command's runs and then the other's measured the drift as
# much as the commands; interleaved, the drift slows them alike and their
# ratio holds. Prints a line per command: median wall seconds (from the
# clock around the run, less the median of `true` run the same way in the
# same rounds: ~10 ms of shell and `time` start-up), median CPU seconds
# (user+sys) and peak RSS in KB (the largest).
measure() {
    local input=$1 i r
    shift
    set -- true "$@"
    local n=$#
    for ((i = 0; i < n; i++)); do : >"$out/times.$i"; done
    for ((r = 0; r <= runs; r++)); do
        for ((i = 0; i < n; i++)); do
            local cmd=${@:i+1:1} start end line
            start=$(date +%s%N)
            line=$( { /usr/bin/time -f '%U %S %M' sh -c "$cmd < '$input' > /dev/null 2>&1 || [ \$? -le 2 ]"; } 2>&1 | tail -1)
            end=$(date +%s%N)
            [ "$r" -gt 0 ] || continue
            read -r user sys kb <<<"$line"
            echo "$(calc "($end - $start) / 1e9") $(calc "$user + $sys") $kb" >>"$out/times.$i"
        done
    done
    local middle=$(( (runs + 1) / 2 )) start_up
    start_up=$(cut -d' ' -f1 "$out/times.0" | sort -g | sed -n "${middle}p")
    for ((i = 1; i < n; i++)); do
        echo "$(calc "$(cut -d' ' -f1 "$out/times.$i" | sort -g | sed -n "${middle}p") - $start_up")" \
            "$(cut -d' ' -f2 "$out/times.$i" | sort -g | sed -n "${middle}p")" \
            "$(cut -d' ' -f3 "$out/times.$i" | sort -g | tail -1)"
    done
}

printf 'machine: %s cores, %s; load average %s\n' "$(nproc)" \
    "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %9s %10s | %10s %9s | %10s %9s | %7s %7s | %8s %6s | %9s %7s\n' \
    services lines MB iptlint_s cpu_s restore_s cpu_s ratio cpu_rat RSS_MB RSS/MB explain_s ratio
declare -A wall_of
for n in "${sizes[@]}"; do
    dump="$out/kube-$n.rules"
    [ -s "$dump" ] || "$gen" --services "$n" --seed 1 >"$dump" 2>/dev/null
    bytes=$(stat -c %s "$dump")
    lines=$(wc -l <"$dump")
    count=$("$iptlint" services "$dump" | tail -n +2 | wc -l)
    service=$("$iptlint" services "$dump" | sed -n "$((count / 2 + 2))p" | cut -d' ' -f1)
    commands=("$iptlint check -q --exit-zero -" "$iptlint explain '$service' -")
    [ -z "$restore" ] || commands+=("$restore")
    mapfile -t results < <(measure "$dump" "${commands[@]}")
    read -r wall cpu kb <<<"${results[0]}"
    read -r ewall _ _ <<<"${results[1]}"
    wall_of[$n]=$wall
    eratio="-"
    rwall="-" rcpu="-" ratio="-" cpu_ratio="-"
    if [ -n "$restore" ]; then
        read -r rwall rcpu _ <<<"${results[2]}"
        ratio=$(printf '%.3f' "$(calc "$wall / $rwall")")
        cpu_ratio=$(printf '%.3f' "$(calc "$cpu / $rcpu")")
        eratio=$(printf '%.3f' "$(calc "$ewall / $rwall")")
        rwall=$(printf '%.3f' "$rwall"); rcpu=$(printf '%.2f' "$rcpu")
    fi
    printf '%-8s %9s %10.1f | %10.3f %9.2f | %10s %9s | %7s %7s | %8.0f %6.1f | %9.3f %7s\n' \
        "$n" "$lines" "$(calc "$bytes / 1000000")" "$wall" "$cpu" "$rwall" "$rcpu" \
        "$ratio" "$cpu_ratio" "$(calc "$kb / 1024")" "$(calc "$kb * 1024 / $bytes")" \
        "$ewall" "$eratio"
done
if [ -n "${wall_of[10000]:-}" ] && [ -n "${wall_of[40000]:-}" ]; then
    printf 'growth 10k -> 40k services: %.2fx (linear would be ~4x; goal <= 4.5x)\n' \
        "$(calc "${wall_of[40000]} / ${wall_of[10000]}")"
fi
echo "dumps kept in $out"

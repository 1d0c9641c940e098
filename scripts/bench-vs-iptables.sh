#!/usr/bin/env bash
# iptlint check vs iptables-legacy-restore --test on generated kube-proxy dumps.
#
#   scripts/bench-vs-iptables.sh [SERVICES...]     (default: 1000 10000 40000)
#
# For each size: generates the dump (examples/gen-dump.rs, seed 1), runs a
# release `iptlint check` and `iptables-legacy-restore --test` on it, and prints
# wall time (hyperfine's mean when installed, else the median of /usr/bin/time
# runs), CPU time (user+sys), their ratios, iptlint's peak RSS over the file
# size, the growth of iptlint's time from 10k to 40k services, and the wall
# time of `iptlint explain` of the service in the middle of the dump (from
# `iptlint services`) with its ratio to the restore's.
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

# wall seconds, cpu seconds (user+sys), peak RSS in KB: medians over $runs runs
# of: $1 < $2. Wall time from hyperfine when installed.
measure() {
    local cmd=$1 input=$2 i
    local walls=() cpus=() rss=()
    for ((i = 0; i < runs; i++)); do
        local line
        line=$( { /usr/bin/time -f '%e %U %S %M' sh -c "$cmd < '$input' > /dev/null 2>&1 || [ \$? -le 2 ]"; } 2>&1 | tail -1)
        read -r wall user sys kb <<<"$line"
        walls+=("$wall"); cpus+=("$(calc "$user + $sys")"); rss+=("$kb")
    done
    local median_wall median_cpu max_rss
    median_wall=$(printf '%s\n' "${walls[@]}" | sort -g | sed -n "$(( (runs + 1) / 2 ))p")
    median_cpu=$(printf '%s\n' "${cpus[@]}" | sort -g | sed -n "$(( (runs + 1) / 2 ))p")
    max_rss=$(printf '%s\n' "${rss[@]}" | sort -g | tail -1)
    if command -v hyperfine >/dev/null 2>&1; then
        median_wall=$(hyperfine --runs "$runs" --warmup 1 -N --input "$input" --output null \
            --export-json "$out/hf.json" -i "$cmd" >/dev/null 2>&1 &&
            python3 -c "import json;print(json.load(open('$out/hf.json'))['results'][0]['mean'])" ||
            echo "$median_wall")
    fi
    echo "$median_wall $median_cpu $max_rss"
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
    read -r wall cpu kb <<<"$(measure "$iptlint check -q --exit-zero -" "$dump")"
    wall_of[$n]=$wall
    count=$("$iptlint" services "$dump" | tail -n +2 | wc -l)
    service=$("$iptlint" services "$dump" | sed -n "$((count / 2 + 2))p" | cut -d' ' -f1)
    read -r ewall _ _ <<<"$(measure "$iptlint explain '$service' -" "$dump")"
    eratio="-"
    rwall="-" rcpu="-" ratio="-" cpu_ratio="-"
    if [ -n "$restore" ]; then
        read -r rwall rcpu _ <<<"$(measure "$restore" "$dump")"
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

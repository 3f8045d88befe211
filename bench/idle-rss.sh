#!/usr/bin/env bash
# Idle memory: the RSS (VmRSS) of a freshly started `holdfast serve` with its store on (the default), with
# `persistence false`, and of Mosquitto, each on loopback, read SETTLE s after the port opens and again SETTLE s after
# one client has published a QoS 1 message and left. Rounds are interleaved; prints every run, then the medians.
#
#   bench/idle-rss.sh                         # 3 rounds, about 2 minutes
#   LOAD=10 bench/idle-rss.sh                 # also: the store's RSS SETTLE s after a LOAD-second durable fan-in
#   EXTRA='store_write_buffer_size 64M' bench/idle-rss.sh
#
# Settings (environment):
#   ROUNDS        rounds (default 3); SETTLE seconds idle before each reading (default 5)
#   LOAD          seconds of `holdfast bench fan-in -q 1 --publishers 8 --session-expiry 300` against the broker with
#                 the store (durability sync) before a third reading (default 0: none)
#   EXTRA         config lines for both Holdfast runs, ';'-separated (they come last, so they win)
#   HOLDFAST_DLL  a built holdfast.dll to use instead of building src/Holdfast.Cli in Release
#   MOSQUITTO     the mosquitto binary (default /usr/sbin/mosquitto; skipped when missing)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${ROUNDS:-3}
settle=${SETTLE:-5}
load=${LOAD:-0}
mosquitto=${MOSQUITTO:-/usr/sbin/mosquitto}
python=/usr/bin/python3

if [[ -z ${HOLDFAST_DLL:-} ]]; then
    echo "building src/Holdfast.Cli (Release)..." >&2
    dotnet build -c Release "$root/src/Holdfast.Cli" -v quiet -nologo >&2
    HOLDFAST_DLL=$root/src/Holdfast.Cli/bin/Release/net10.0/holdfast.dll
fi

work=$(mktemp -d /tmp/holdfast-idle.XXXXXX)
broker_pid=
cleanup() {
    if [[ -n $broker_pid ]]; then kill -KILL "$broker_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port, wait_for_broker, stop_broker
source "$root/bench/broker-process.sh"
rss_mib() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$broker_pid/status"; }

# Starts one of: store, nostore, mosquitto; sets broker_pid and port. The data directory is in the run's own folder.
start_broker() {
    local kind=$1 dir=$work/$1
    rm -rf "$dir" && mkdir -p "$dir"
    port=$(free_port)
    if [[ $kind == mosquitto ]]; then
        # As root it must be told to stay root, else it switches to user mosquitto.
        { [[ $(id -u) == 0 ]] && echo "user root"
          printf '%s\n' "listener $port 127.0.0.1" "allow_anonymous true"; } > "$dir/broker.conf"
        "$mosquitto" -c "$dir/broker.conf" > "$dir/broker.log" 2>&1 &
    else
        printf '%s\n' "listener $port 127.0.0.1" "allow_anonymous true" "persistence_location $dir" \
            "max_inflight_messages 100" "receive_maximum 100" "max_queued_messages 0" > "$dir/broker.conf"
        [[ $kind == nostore ]] && echo "persistence false" >> "$dir/broker.conf"
        tr ';' '\n' <<< "${EXTRA:-}" | sed 's/^ *//; s/ *$//; /^$/d' >> "$dir/broker.conf"
        dotnet "$HOLDFAST_DLL" serve -c "$dir/broker.conf" > "$dir/broker.log" 2>&1 &
    fi
    broker_pid=$!
    wait_for_broker "idle-rss.sh: $kind" "$port" "$dir/broker.log"
}

kinds=(store nostore)
[[ -x $mosquitto ]] && kinds+=(mosquitto)
echo "# idle RSS $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores, $(uname -sr); .NET $(dotnet --version)"
echo "readings ${settle} s after start, ${settle} s after one client${EXTRA:+; Holdfast config: $EXTRA}"
results=$work/results
for round in $(seq "$rounds"); do
    # Alternate the order, so that neither kind always runs first.
    order=("${kinds[@]}")
    (( round % 2 == 0 )) && order=($(printf '%s\n' "${kinds[@]}" | tac))
    for kind in "${order[@]}"; do
        start_broker "$kind"
        sleep "$settle"; started=$(rss_mib)
        dotnet "$HOLDFAST_DLL" pub -h 127.0.0.1 -p "$port" -q 1 -t idle/rss -m x
        sleep "$settle"; client=$(rss_mib)
        line="round $round  $(printf '%-9s' "$kind")  started $started MiB  after a client $client MiB"
        if [[ $kind == store && $load -gt 0 ]]; then
            dotnet "$HOLDFAST_DLL" bench fan-in -q 1 --publishers 8 --session-expiry 300 --window 100 \
                -h 127.0.0.1 -p "$port" -d "$load" --warmup 1 > "$work/bench.log"
            sleep "$settle"; loaded=$(rss_mib)
            line+="  after ${load} s of load $loaded MiB"
        else
            loaded=
        fi
        echo "$line"
        echo "$kind $started $client $loaded" >> "$results"
        stop_broker
    done
done

echo
header="medians (MiB): started / after a client"
(( load > 0 )) && header+=" / after load (store)"
echo "$header"
"$python" - "$results" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    kind, *values = line.split()
    rows.setdefault(kind, []).append([float(v) for v in values])
for kind, runs in rows.items():
    columns = zip(*runs)
    print(f"{kind:9}  " + " / ".join(f"{statistics.median(c):.1f}" for c in columns))
EOF

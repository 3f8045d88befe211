#!/usr/bin/env bash
# Holdfast against Debian's Mosquitto on loopback: the same `holdfast bench` scenarios against each broker, interleaved
# (round 1: Holdfast then Mosquitto, round 2: Mosquitto then Holdfast, ...), each run on a freshly started broker so that
# its peak RSS and CPU time are that run's. Prints every run as it goes, then the medians and Holdfast/Mosquitto ratios.
#
#   bench/compare.sh                          # the default matrix, 3 rounds, 10 s per run (about 15 minutes)
#   ROUNDS=1 DURATION=2 WARMUP=1 bench/compare.sh
#   SCENARIOS='fan-in q1 8->1 | fan-in -q 1 --publishers 8' bench/compare.sh
#   SCENARIOS='durable | fan-in -q 1 --publishers 8 --session-expiry 300 | persistence true; durability sync' bench/compare.sh
#
# Settings (environment):
#   SCENARIOS     one scenario a line, "label | holdfast bench arguments [| Holdfast config lines, ';'-separated]"
#                 (default: the matrix below); blank lines are skipped. The config lines go after the common ones, so
#                 "persistence true" turns Holdfast's durable store on for that scenario (Mosquitto stays in memory)
#   WINDOW        --window for every run (default: INFLIGHT), unless the scenario sets its own. The same for both brokers
#                 and every protocol version: MQTT 3.1.1 has no Receive Maximum, so a window above the broker's max
#                 inflight gets a QoS 1/2 publisher disconnected there
#   ROUNDS        rounds (default 3); DURATION measured seconds per run (default 10); WARMUP seconds (default 2)
#   INFLIGHT      max_inflight_messages on both brokers, and Holdfast's receive_maximum to match what Mosquitto
#                 advertises as its Receive Maximum (default 100)
#   QUEUED        max_queued_messages on both brokers (default 0: unlimited; Mosquitto 2.0.11 drops QoS 1 messages
#                 for a subscriber that keeps up when this is finite and the load is high, which `lost` then shows)
#   HOLDFAST_DLL  a built holdfast.dll to use instead of building src/Holdfast.Cli in Release
#   MOSQUITTO     the mosquitto binary (default /usr/sbin/mosquitto)
#   KEEP          directory to keep the per-run JSON in, each invocation in a fresh subdirectory of it (default: a
#                 temporary directory, removed at the end)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${ROUNDS:-3}
duration=${DURATION:-10}
warmup=${WARMUP:-2}
inflight=${INFLIGHT:-100}
window=${WINDOW:-$inflight}
queued=${QUEUED:-0}
mosquitto=${MOSQUITTO:-/usr/sbin/mosquitto}
default_scenarios='fan-in q0 8->1       | fan-in -q 0 --publishers 8
fan-in q1 8->1       | fan-in -q 1 --publishers 8
fan-in q2 8->1       | fan-in -q 2 --publishers 8
fan-out q0 1->50     | fan-out -q 0 --subscribers 50
fan-out q1 1->50     | fan-out -q 1 --subscribers 50
pairs q1 x100        | pairs -q 1 --pairs 100
fan-in q1 durable    | fan-in -q 1 --publishers 8 --session-expiry 300 | persistence true; durability sync
latency q1 @4000/s   | pairs -q 1 --pairs 1 --rate 4000
connections 10000    | connections --connections 10000'
python=/usr/bin/python3

# One scenario a line; blank lines skipped here, and the python below sees exactly these lines. Each is split once into
# its label, its bench arguments and its Holdfast-only config lines (empty without a third field).
lines=() labels=() bench_args=() extras=()
while IFS= read -r line; do
    [[ -z ${line//[[:space:]]/} ]] && continue
    if [[ $line != *'|'* ]]; then echo "compare.sh: a SCENARIOS line needs 'label | bench arguments': $line" >&2; exit 2; fi
    lines+=("$line")
    labels+=("$(echo "${line%%|*}" | sed 's/ *$//')")
    rest=${line#*|}
    if [[ $rest == *'|'* ]]; then extras+=("${rest#*|}"); bench_args+=("${rest%%|*}"); else extras+=(""); bench_args+=("$rest"); fi
done <<< "${SCENARIOS:-$default_scenarios}"
(( ${#lines[@]} > 0 )) || { echo "compare.sh: SCENARIOS has no scenario" >&2; exit 2; }

[[ -x $mosquitto ]] || { echo "compare.sh: $mosquitto not found (apt-get install mosquitto)" >&2; exit 2; }
[[ -x $python ]] || { echo "compare.sh: $python not found" >&2; exit 2; }

if [[ -z ${HOLDFAST_DLL:-} ]]; then
    echo "building src/Holdfast.Cli (Release)..." >&2
    dotnet build -c Release "$root/src/Holdfast.Cli" -v quiet -nologo >&2
    HOLDFAST_DLL=$root/src/Holdfast.Cli/bin/Release/net10.0/holdfast.dll
fi

work=$(mktemp -d /tmp/holdfast-compare.XXXXXX)
if [[ -n ${KEEP:-} ]]; then results=$KEEP/$(date -u +%Y%m%d-%H%M%S)-$$; else results=$work/results; fi
mkdir -p "$results"
broker_pid=
bench_pid=
cleanup() {
    if [[ -n $bench_pid ]]; then kill -KILL "$bench_pid" 2>/dev/null || true; fi
    if [[ -n $broker_pid ]]; then kill -KILL "$broker_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 10,000 connections need 10,000 descriptors in each broker (and in the generator, which .NET raises itself).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# free_port, wait_for_broker, stop_broker
source "$root/bench/broker-process.sh"

# Starts $1 (holdfast|mosquitto) on a free loopback port, Holdfast with the extra config lines $2 (';'-separated);
# sets broker_pid and broker_port.
start_broker() {
    local name=$1 extra=${2:-} dir=$work/$1
    rm -rf "$dir" && mkdir -p "$dir"
    broker_port=$(free_port)
    if [[ $name == holdfast ]]; then
        printf '%s\n' "listener $broker_port 127.0.0.1" "allow_anonymous true" "persistence false" \
            "log_dest stderr" "log_type error" "log_type warning" "connection_messages false" \
            "max_inflight_messages $inflight" "receive_maximum $inflight" "max_queued_messages $queued" \
            "persistence_location $dir/data" > "$dir/broker.conf"
        # The scenario's own lines come last: a later line wins.
        tr ';' '\n' <<< "$extra" | sed 's/^ *//; s/ *$//; /^$/d' >> "$dir/broker.conf"
        dotnet "$HOLDFAST_DLL" serve -c "$dir/broker.conf" > "$dir/broker.log" 2>&1 &
    else
        # As root it must be told to stay root, else it switches to user mosquitto. stderr: stdout is block-buffered.
        { [[ $(id -u) == 0 ]] && echo "user root"
          printf '%s\n' "listener $broker_port 127.0.0.1" "allow_anonymous true" "persistence false" \
            "log_dest stderr" "log_type error" "log_type warning" "connection_messages false" \
            "max_inflight_messages $inflight" "max_queued_messages $queued" \
            "set_tcp_nodelay true"; } > "$dir/broker.conf"   # Holdfast (Kestrel) sets TCP_NODELAY too
        "$mosquitto" -c "$dir/broker.conf" > "$dir/broker.log" 2>&1 &
    fi
    broker_pid=$!
    wait_for_broker "compare.sh: $name" "$broker_port" "$dir/broker.log"
}

model=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
mosquitto_version=$("$mosquitto" -h 2>/dev/null | sed -n 's/^mosquitto version //p' | head -1 || true)
echo "# Holdfast vs Mosquitto $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores, ${model:-unknown CPU}, $(uname -sr); .NET $(dotnet --version); mosquitto ${mosquitto_version:-?}"
echo "both brokers: loopback, persistence false, max_inflight_messages $inflight, max_queued_messages $queued (0 = unlimited), Holdfast receive_maximum $inflight, Mosquitto set_tcp_nodelay true"
for i in "${!lines[@]}"; do
    if [[ -n ${extras[$i]} ]]; then echo "Holdfast only, for '${labels[$i]}':${extras[$i]} (store in $work, on $(df --output=fstype "$work" | tail -1))"; fi
done
echo "every run: MQTT 5 unless stated, 64-byte payload, clean sessions, --window $window unless the scenario sets one, ${warmup} s warm-up then ${duration} s measured; $rounds interleaved rounds"
echo "generator: DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0 (the brokers run with their defaults)"
echo
for round in $(seq "$rounds"); do
    if (( round % 2 == 1 )); then order=(holdfast mosquitto); else order=(mosquitto holdfast); fi
    for i in "${!lines[@]}"; do
        label=${labels[$i]}
        read -r -a args <<< "${bench_args[$i]}"
        [[ " ${args[*]} " == *" --window "* ]] || args+=(--window "$window")
        for broker in "${order[@]}"; do
            start_broker "$broker" "${extras[$i]}"
            out=$results/$round-$i-$broker.json
            # Only the generator gets the spin limit: idle thread-pool workers spinning for work cost it half its CPU and take
            # that CPU from the broker on a small machine. Holdfast's own thread-pool settings are its business, not this script's.
            # In the background, so that a signal is handled at once (bash runs traps only between foreground commands) and
            # cleanup can kill it.
            DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0 dotnet "$HOLDFAST_DLL" bench "${args[@]}" -p "$broker_port" -d "$duration" \
                --warmup "$warmup" --broker-pid "$broker_pid" --json > "$out" 2> "$work/bench.err" &
            bench_pid=$!
            status=0
            wait "$bench_pid" || status=$?
            bench_pid=
            if (( status == 0 )); then
                "$python" - "$out" "$round" "$broker" "$label" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
if d.get('connections_requested') is not None:
    what = f"{d.get('kib_per_connection') or 0:8.1f} KiB/conn, {d['connections_open']} open"
else:
    what = f"{d['delivered_per_s']:10,.0f} msg/s  p99 {d['latency_p99_ms']:8.2f} ms  lost {d.get('lost', '-')}  stalls {d.get('stalls', 0)}"
print(f"round {sys.argv[2]}  {sys.argv[4]:<22} {sys.argv[3]:<9}  {what}  broker CPU {d.get('broker_cpu_percent') or 0:5.1f}%"
      f"  generator CPU {d['generator_cpu_percent']:5.1f}% ({d['generator_cpu_percent_of_all_cores']:.0f}% of all cores)  peak RSS {(d.get('broker_peak_rss_kib') or 0) / 1024:7.1f} MiB"
      + (f"  warnings: {'; '.join(d['warnings'])}" if d['warnings'] else ""))
EOF
            else
                echo "round $round  $label  $broker  FAILED (exit $status): $(tail -1 "$work/bench.err")"
                rm -f "$out"
            fi
            stop_broker
        done
    done
done

echo
if [[ -n ${KEEP:-} ]]; then echo "per-run JSON kept in $results"; fi
"$python" - "$results" "$rounds" "${lines[@]}" <<'EOF'
import glob, json, os, statistics, sys

results, rounds, scenarios = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
runs = {}
for path in glob.glob(os.path.join(results, '*.json')):
    _, index, broker = os.path.basename(path)[:-5].split('-')
    runs.setdefault((int(index), broker), []).append(json.load(open(path)))

def median(index, broker, field, scale=1.0):
    values = [r[field] * scale for r in runs.get((index, broker), []) if r.get(field) is not None]
    return statistics.median(values) if values else None

def per_million(index, broker):
    values = [r['broker_cpu_s'] / r['delivered'] * 1e6 for r in runs.get((index, broker), [])
              if r.get('broker_cpu_s') is not None and r.get('delivered')]
    return statistics.median(values) if values else None

def cell(h, m, fmt):
    if h is None or m is None:
        return ' / '.join('n/a' if v is None else fmt.format(v) for v in (h, m))
    ratio = f'{h / m:.2f}×' if m else '∞'
    return f'{fmt.format(h)} / {fmt.format(m)} / {ratio}'

def runs_cell(index):
    # Runs behind the medians: fewer than the rounds means some failed (see FAILED above); "warned" counts runs with warnings.
    parts = []
    for b in ('holdfast', 'mosquitto'):
        rs = runs.get((index, b), [])
        warned = sum(1 for r in rs if r.get('warnings'))
        parts.append(f"n={len(rs)}" + ('' if len(rs) == rounds else ' FAILED') + (f" ({warned} warned)" if warned else ''))
    return ' / '.join(parts)

def closed_loop(index):
    return any(not r.get('rate_limit') for b in ('holdfast', 'mosquitto') for r in runs.get((index, b), []))

def total(index, broker, field):
    return sum(r.get(field) or 0 for r in runs.get((index, broker), []))

message_rows, connection_rows = [], []
for index, line in enumerate(scenarios):
    label = line.split('|')[0].strip()
    if 'connections' in line.split('|')[1]:
        connection_rows.append('| {} | {} | {} | {} | {} | {} |'.format(label, runs_cell(index),
            cell(median(index, 'holdfast', 'kib_per_connection'), median(index, 'mosquitto', 'kib_per_connection'), '{:,.1f}'),
            cell(median(index, 'holdfast', 'broker_peak_rss_kib', 1 / 1024), median(index, 'mosquitto', 'broker_peak_rss_kib', 1 / 1024), '{:,.1f}'),
            cell(median(index, 'holdfast', 'broker_cpu_s'), median(index, 'mosquitto', 'broker_cpu_s'), '{:,.2f}'),
            cell(median(index, 'holdfast', 'connects_per_s'), median(index, 'mosquitto', 'connects_per_s'), '{:,.0f}')))
        continue
    message_rows.append('| {} | {} | {} | {} | {} | {} | {} | {} | {} |'.format(label, runs_cell(index),
        cell(median(index, 'holdfast', 'delivered_per_s'), median(index, 'mosquitto', 'delivered_per_s'), '{:,.0f}'),
        ('closed loop: ' if closed_loop(index) else '')
        + cell(median(index, 'holdfast', 'latency_p99_ms'), median(index, 'mosquitto', 'latency_p99_ms'), '{:,.2f}'),
        cell(median(index, 'holdfast', 'broker_peak_rss_kib', 1 / 1024), median(index, 'mosquitto', 'broker_peak_rss_kib', 1 / 1024), '{:,.1f}'),
        cell(median(index, 'holdfast', 'broker_cpu_s'), median(index, 'mosquitto', 'broker_cpu_s'), '{:,.2f}'),
        cell(per_million(index, 'holdfast'), per_million(index, 'mosquitto'), '{:,.1f}'),
        ' / '.join(f"{total(index, b, 'lost')}+{total(index, b, 'duplicates')}" for b in ('holdfast', 'mosquitto')),
        ' / '.join('n/a' if v is None else f'{v:.0f}%' for v in (median(index, 'holdfast', 'generator_cpu_percent_of_all_cores'), median(index, 'mosquitto', 'generator_cpu_percent_of_all_cores')))))

print('Medians, Holdfast / Mosquitto / ratio (Holdfast ÷ Mosquitto). msg/s: higher is better; the rest: lower is better.')
print(f'runs: successful runs per broker (of {rounds}); "warned": runs with warnings (stalls, a saturated machine, ...: see the per-run lines).')
print('p99 "closed loop": no --rate, so it is mostly queueing in the window (about window ÷ throughput), not broker latency;')
print('compare latency on the rate-limited rows (measured from the scheduled send time).')
print()
if message_rows:
    print('| scenario | runs H / M | delivered msg/s | p99 latency ms | peak RSS MiB | broker CPU s | broker CPU s per 1M msgs | lost+duplicates (all rounds) | generator CPU (% of all cores) |')
    print('|---|---|---|---|---|---|---|---|---|')
    print('\n'.join(message_rows))
    print()
if connection_rows:
    print('| scenario | runs H / M | KiB per connection | peak RSS MiB | broker CPU s | connects/s |')
    print('|---|---|---|---|---|---|')
    print('\n'.join(connection_rows))
EOF

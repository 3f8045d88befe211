# Sourced by compare.sh and idle-rss.sh: a broker process on a loopback port, started by the caller (which sets
# broker_pid), waited for and stopped by its process id.

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Waits until broker_pid accepts connections on $2; if it exits or 30 s pass, prints "$1 did not start" and its log $3.
wait_for_broker() {
    local what=$1 port=$2 log=$3
    for _ in $(seq 300); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        if ! kill -0 "$broker_pid" 2>/dev/null; then break; fi
        sleep 0.1
    done
    echo "$what did not start:" >&2; cat "$log" >&2
    return 1
}

# SIGTERM, up to 15 s for a clean stop (the broker flushes its store), then SIGKILL.
stop_broker() {
    kill -TERM "$broker_pid" 2>/dev/null || true
    for _ in $(seq 150); do kill -0 "$broker_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
    broker_pid=
}

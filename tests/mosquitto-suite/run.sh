#!/usr/bin/env bash
# Runs Mosquitto 2.0.11's own broker tests (test/broker/*.py from Debian bookworm's source package) against
# `holdfast serve`, or against Debian's mosquitto as the reference, one test at a time, and ends with one line:
#
#   mosquitto-suite: N passed, M failed, K skipped
#
# Usage: tests/mosquitto-suite/run.sh            (from anywhere; builds nothing, see HOLDFAST_DLL)
#
# Environment:
#   HOLDFAST_DLL=PATH    the holdfast.dll to run (default: src/Holdfast.Cli/bin/Release/net10.0/holdfast.dll of this
#                        repository; build it with `dotnet build -c Release src/Holdfast.Cli`).
#   MOSQUITTO=PATH       reference mode: run the same tests against this mosquitto binary (e.g. /usr/sbin/mosquitto)
#                        instead of Holdfast.
#   TESTS="PATTERN..."   run a subset: test names or shell globs, with or without .py (e.g. TESTS='01-* 07-will-null').
#   TIMEOUT=SECONDS      per-test limit (default 60; 06-bridge-clean-session, about 135 s, always gets at least 200);
#                        a test still running then is killed (its process group, then its brokers) and fails.
#   MOSQ_SUITE_CACHE=DIR where the Debian source package is kept (default ~/.cache/holdfast/mosquitto-suite).
#   MOSQ_SUITE_WORK=DIR  scratch directory of this run: the extracted tree, per-test logs, results.tsv
#                        (default: a new /tmp/mosquitto-suite.XXXXXX, printed at the start and the end).
#
# What it does:
#   1. Source: mosquitto_2.0.11.orig.tar.gz from `apt-get source --download-only mosquitto` (sha256 checked), cached in
#      MOSQ_SUITE_CACHE. The Debian patches are not applied: the tests are upstream 2.0.11's. When apt has no deb-src
#      entry, the script ADDS /etc/apt/sources.list.d/debian-src.sources (deb-src for bookworm main) and runs
#      `apt-get update` (as root, or with sudo).
#   2. Extracts a fresh tree into the work directory. The tarball's test certificates (test/ssl) expired in Feb 2025,
#      so when test/ssl/server.crt has expired they are regenerated with the tarball's own test/ssl/gen.sh (openssl),
#      as Debian's packaging does.
#   3. Builds the C test plugins (test/broker/c/*.so: gcc and the tarball's headers) and the two TLS-PSK test clients
#      (linked against Debian's libmosquitto.so.1, package libmosquitto1). Without gcc or libmosquitto1 the tests that
#      need them are skipped, with that reason. The dynamic security tests load
#      plugins/dynamic-security/mosquitto_dynamic_security.so: a link to Debian's (package mosquitto).
#   4. Writes the broker the tests start, src/mosquitto (they run `../../src/mosquitto -v -c FILE` or
#      `... -v -p PORT` from test/broker): a bash wrapper that records its pid and execs
#      `dotnet holdfast.dll serve "$@"` (or the MOSQUITTO binary). Before exec, it edits the test's config file so
#      every listener binds to loopback: `listener N` becomes `listener N 127.0.0.1`, and a file with `port N` gets
#      `bind_address 127.0.0.1`. In reference mode, when run as root, it also appends `user root` (otherwise mosquitto
#      switches to user mosquitto, which cannot write its persistence files into the root-owned tree); `-p PORT`
#      without -c already binds mosquitto to loopback only.
#   5. Runs every test file in test/broker (all *.py except the helpers mosq_test_helper.py, prop_subpub_helper.py,
#      test.py and *-helper.py: 193 files; upstream's test.py lists 190 of them) with /usr/bin/python3, one at a time,
#      on the tests' default ports (1888, 1889, 1890), each under `timeout`. After each test, any broker the wrapper
#      started that is still running is stopped by its recorded pid, and whatever the test left in test/broker
#      (config files, persistence files, Holdfast's default holdfast.db store) is removed, so no test sees another's
#      state.
#   6. Writes results.tsv (name, PASS/FAIL/SKIP, seconds, reason) and a log per test (logs/NAME.log) into the work
#      directory. The reason of a failure is the exit code or timeout plus the test's first FAIL line (with the
#      received and expected packets) or its exception.
#
# Needs: bash, apt-get (deb-src), tar, python3 (/usr/bin/python3), openssl, gcc, libmosquitto1, timeout
# (coreutils); dotnet for Holdfast; mosquitto for reference mode. Exit status: 0 when nothing failed, 1 otherwise.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

version=2.0.11
orig=mosquitto_${version}.orig.tar.gz
orig_sha256=7b36a7198bce85cf31b132f5c6ee36dcf5dadf86fb768501eb1e11ce95d4f78a
cache=${MOSQ_SUITE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/holdfast/mosquitto-suite}
timeout_s=${TIMEOUT:-60}
python=/usr/bin/python3

die() { echo "mosquitto-suite: $*" >&2; exit 2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# ---- the broker under test -------------------------------------------------------------------------------------
if [ -n "${MOSQUITTO:-}" ]; then
  [ -x "$MOSQUITTO" ] || die "MOSQUITTO=$MOSQUITTO is not an executable"
  broker_desc="mosquitto ($MOSQUITTO)"
else
  dll=${HOLDFAST_DLL:-$repo/src/Holdfast.Cli/bin/Release/net10.0/holdfast.dll}
  [ -f "$dll" ] || die "no $dll: build it (dotnet build -c Release src/Holdfast.Cli) or set HOLDFAST_DLL"
  dll=$(cd "$(dirname "$dll")" && pwd)/$(basename "$dll")
  dotnet_bin=$(command -v dotnet) || die "dotnet not found"
  broker_desc="holdfast ($dll)"
fi
[ -x "$python" ] || die "$python not found (apt-get install python3)"
command -v timeout >/dev/null || die "timeout (coreutils) not found"

# ---- 1. the source package, cached -----------------------------------------------------------------------------
fetch_source() {
  [ -f "$cache/$orig" ] && return 0
  command -v apt-get >/dev/null || die "apt-get not found: put $orig into $cache by hand"
  mkdir -p "$cache" || die "cannot create $cache"
  if ! apt-get source --print-uris mosquitto >/dev/null 2>&1; then
    if ! grep -rqs '^Types:.*deb-src\|^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      echo "mosquitto-suite: adding /etc/apt/sources.list.d/debian-src.sources (deb-src bookworm main)" >&2
      printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' |
        as_root tee /etc/apt/sources.list.d/debian-src.sources >/dev/null || die "cannot add the deb-src entry"
    fi
    as_root apt-get update -qq || die "apt-get update failed"
  fi
  local dl
  dl=$(mktemp -d) || die "mktemp failed"
  echo "mosquitto-suite: downloading the mosquitto source package into $cache" >&2
  (cd "$dl" && apt-get source --download-only -qq mosquitto >/dev/null) || { rm -rf "$dl"; die "apt-get source mosquitto failed"; }
  [ -f "$dl/$orig" ] || { ls "$dl" >&2; rm -rf "$dl"; die "Debian's source package is not mosquitto $version"; }
  mv "$dl"/mosquitto_* "$cache/" && rm -rf "$dl"
}
fetch_source
echo "$orig_sha256  $cache/$orig" | sha256sum -c --quiet - >/dev/null 2>&1 ||
  die "$cache/$orig does not have the expected sha256 $orig_sha256"

# ---- 2. a fresh tree -------------------------------------------------------------------------------------------
if [ -n "${MOSQ_SUITE_WORK:-}" ]; then work=$MOSQ_SUITE_WORK; mkdir -p "$work" || die "cannot create $work"
else work=$(mktemp -d /tmp/mosquitto-suite.XXXXXX) || die "mktemp failed"; fi
work=$(cd "$work" && pwd)
top=$work/mosquitto-$version
rm -rf "$top" "$work/logs" && mkdir -p "$work/logs" || die "cannot clean $work"
tar xzf "$cache/$orig" -C "$work" || die "cannot extract $orig"
tb=$top/test/broker
results=$work/results.tsv
: > "$results"
echo "mosquitto-suite: broker $broker_desc; work directory $work"

certs_valid() { openssl x509 -checkend 0 -noout -in "$top/test/ssl/server.crt" >/dev/null 2>&1; }
certs_ok=1
if command -v openssl >/dev/null; then
  certs_valid || (cd "$top/test/ssl" && sh ./gen.sh > "$work/logs/ssl-gen.log" 2>&1)
  certs_valid || certs_ok=0
else
  certs_ok=0   # cannot tell whether they are still valid, and cannot regenerate them
fi

# ---- 3. C plugins and clients ----------------------------------------------------------------------------------
plugins_ok=0; psk_ok=0
if command -v gcc >/dev/null; then
  plugins_ok=1
  for c in "$tb"/c/*.c; do
    case $(basename "$c") in 08-tls-psk-*) continue;; esac
    gcc -I"$top/include" -Wall -fPIC -shared "$c" -o "${c%.c}.so" >> "$work/logs/c-build.log" 2>&1 || plugins_ok=0
  done
  libmosq=$(ldconfig -p 2>/dev/null | awk '/libmosquitto\.so\.1 /{print $NF; exit}')
  if [ -n "$libmosq" ]; then
    psk_ok=1
    for c in "$tb"/c/08-tls-psk-*.c; do
      gcc -I"$top/include" -Wall "$c" -o "${c%.c}.test" "$libmosq" >> "$work/logs/c-build.log" 2>&1 || psk_ok=0
    done
  fi
fi

# The dynamic security tests load ../../plugins/dynamic-security/mosquitto_dynamic_security.so: Debian's build of it.
dynsec=$(ls /usr/lib/*/mosquitto_dynamic_security.so /usr/lib/mosquitto_dynamic_security.so 2>/dev/null | head -n 1)
[ -n "$dynsec" ] && ln -sf "$dynsec" "$top/plugins/dynamic-security/mosquitto_dynamic_security.so"

# ---- 4. the wrapper the tests start as ../../src/mosquitto ------------------------------------------------------
pidfile=$work/broker-pids
wrapper=$top/src/mosquitto
{
  echo '#!/usr/bin/env bash'
  echo '# Written by tests/mosquitto-suite/run.sh: the broker that Mosquitto'\''s tests start.'
  echo "echo \$\$ >> '$pidfile'"
  echo 'conf=""; prev=""'
  echo 'for a in "$@"; do [ "$prev" = -c ] && conf=$a; prev=$a; done'
  echo 'if [ -n "$conf" ] && [ -f "$conf" ]; then'
  echo '  # Bind every listener to loopback.'
  echo '  sed -i -E '\''s/^([[:space:]]*listener[[:space:]]+[0-9]+)[[:space:]]*$/\1 127.0.0.1/'\'' "$conf"'
  echo '  if grep -qE '\''^[[:space:]]*port[[:space:]]'\'' "$conf" && ! grep -qE '\''^[[:space:]]*bind_address[[:space:]]'\'' "$conf"; then'
  echo '    printf '\''\nbind_address 127.0.0.1\n'\'' >> "$conf"'
  echo '  fi'
  if [ -n "${MOSQUITTO:-}" ] && [ "$(id -u)" -eq 0 ]; then
    echo '  # As root, mosquitto would switch to user mosquitto, which cannot write into this tree.'
    echo '  grep -qE '\''^[[:space:]]*user[[:space:]]'\'' "$conf" || printf '\''\nuser root\n'\'' >> "$conf"'
  fi
  echo 'fi'
  if [ -n "${MOSQUITTO:-}" ]; then
    echo "exec '$MOSQUITTO' \"\$@\""
  else
    echo "exec '$dotnet_bin' '$dll' serve \"\$@\""
  fi
} > "$wrapper"
chmod +x "$wrapper"

is_our_broker() {  # pid: still running, and a broker the wrapper exec'd (not a reused pid)
  local cmd
  cmd=$({ tr '\0' ' ' < "/proc/$1/cmdline"; } 2>/dev/null) || return 1
  case $cmd in *holdfast*serve*|*mosquitto*) return 0;; *) return 1;; esac
}
stop_brokers() {  # stops the brokers the wrapper recorded that are still running; prints how many
  local n=0 pid i
  [ -f "$pidfile" ] || { echo 0; return; }
  for pid in $(sort -u "$pidfile"); do
    if is_our_broker "$pid"; then
      n=$((n + 1)); kill -TERM "$pid" 2>/dev/null
      for i in 1 2 3 4 5 6 7 8 9 10; do is_our_broker "$pid" || break; sleep 0.3; done
      is_our_broker "$pid" && kill -KILL "$pid" 2>/dev/null
    fi
  done
  : > "$pidfile"
  echo $n
}
test_pid=""
on_signal() {
  [ -n "$test_pid" ] && kill -TERM -- "-$test_pid" 2>/dev/null
  stop_brokers >/dev/null
  echo "mosquitto-suite: interrupted" >&2
  exit 130
}
trap on_signal INT TERM

# ---- 5. the tests ----------------------------------------------------------------------------------------------
all=()
for f in "$tb"/*.py; do
  n=$(basename "$f")
  case $n in mosq_test_helper.py|prop_subpub_helper.py|test.py|*-helper.py) continue;; esac
  all+=("$n")
done
selected=()
if [ -n "${TESTS:-}" ]; then
  for n in "${all[@]}"; do
    for p in $TESTS; do
      # shellcheck disable=SC2053
      if [[ $n == $p || $n == $p.py ]]; then selected+=("$n"); break; fi
    done
  done
  [ ${#selected[@]} -gt 0 ] || die "TESTS='$TESTS' matches no test"
else
  selected=("${all[@]}")
fi

skip_reason() {  # prints why a test cannot run here, for reasons that have nothing to do with the broker
  local n=$1
  case $n in
    03-publish-qos1-queued-bytes.py)
      echo "Python 2 only (imports the Queue module); upstream's test.py and Makefile comment it out"; return;;
  esac
  if grep -q 'c/auth_plugin\|c/plugin_control' "$tb/$n" && [ $plugins_ok -eq 0 ]; then
    echo "needs the C test plugins in test/broker/c, which could not be built (gcc missing or failed; see logs/c-build.log)"; return
  fi
  if grep -q '\./c/.*\.test' "$tb/$n" && [ $psk_ok -eq 0 ]; then
    echo "needs a TLS-PSK C client built against libmosquitto.so.1 (apt-get install gcc libmosquitto1)"; return
  fi
  if grep -q '\.\./ssl/' "$tb/$n" && [ $certs_ok -eq 0 ]; then
    echo "the test certificates in test/ssl have expired and could not be regenerated (apt-get install openssl)"; return
  fi
}

listed_upstream() { grep -q "'\./$1'" "$tb/test.py" && ! grep -q "^ *#.*'\./$1'" "$tb/test.py"; }

reason_of() {  # log file, exit code, time limit: a one-line reason
  "$python" - "$1" "$2" "$3" <<'EOF'
import ast, re, sys
path, rc = sys.argv[1], int(sys.argv[2])
lines = [l.rstrip() for l in open(path, errors="replace")]
lines = [l for l in lines if l.strip()]
head = "timeout (%ss)" % sys.argv[3] if rc in (124, 137) else "exit %d" % rc
detail = ""
for i, l in enumerate(lines):
    m = re.match(r"^FAIL: unable to start broker: (b['\"].*)$", l)
    if m:
        try:
            errs = [e for e in ast.literal_eval(m.group(1)).decode(errors="replace").splitlines() if e.strip()]
        except Exception:
            errs = []
        errs = [e for e in errs if "rror" in e] or errs
        detail = "FAIL: unable to start broker" + (": " + errs[-1] if errs else " (no output)")
        break
    if l.startswith("FAIL"):
        parts = [l]
        for nxt in lines[i + 1:i + 3]:
            if nxt.startswith(("Received", "Expected")):
                parts.append(nxt)
        detail = " | ".join(parts)
        break
if not detail:
    exc = [l for l in lines if re.match(r"^[A-Za-z_.]*(Error|Exception|Exit|Interrupt)\b", l)]
    if exc:
        detail = exc[-1]
    elif lines:
        detail = lines[-1]
print((head + (": " + detail if detail else "")).replace("\t", " ")[:400])
EOF
}

passed=0; failed=0; skipped=0; i=0; total=${#selected[@]}
suite_start=$(date +%s)
before=$work/before.lst
for n in "${selected[@]}"; do
  i=$((i + 1))
  note=""; listed_upstream "$n" || note=" (not in upstream's test.py)"
  why=$(skip_reason "$n")
  if [ -n "$why" ]; then
    skipped=$((skipped + 1))
    printf '%s\tSKIP\t0\t%s\n' "$n" "$why$note" >> "$results"
    printf '[%3d/%d] SKIP %s: %s\n' "$i" "$total" "$n" "$why"
    continue
  fi
  (cd "$tb" && ls -A) | sort > "$before"
  : > "$pidfile"
  log=$work/logs/${n%.py}.log
  limit=$timeout_s
  # 06-bridge-clean-session restarts its two brokers six times with 10 s pauses: about 135 s against Mosquitto.
  [ "$n" = 06-bridge-clean-session.py ] && [ "$limit" -lt 200 ] && limit=200
  t0=$(date +%s.%N)
  # timeout runs the test in a process group of its own (its pid); the trap below stops that group on Ctrl-C.
  (cd "$tb" && PATH="/usr/bin:$PATH" exec timeout -k 5 "$limit" "$python" "./$n") > "$log" 2>&1 < /dev/null &
  test_pid=$!
  wait "$test_pid"
  rc=$?
  test_pid=""
  t1=$(date +%s.%N)
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
  left=$(stop_brokers)
  # Remove what the test left behind (its own files are deleted by a test that ends normally).
  (cd "$tb" && ls -A) | sort | comm -13 "$before" - | while IFS= read -r f; do rm -rf -- "${tb:?}/$f"; done
  extra=""; [ "$left" -gt 0 ] && extra=" (left $left broker(s) running; stopped by pid)"
  if [ $rc -eq 0 ]; then
    passed=$((passed + 1))
    printf '%s\tPASS\t%s\t%s\n' "$n" "$secs" "ok$extra$note" >> "$results"
    printf '[%3d/%d] PASS %s (%s s)\n' "$i" "$total" "$n" "$secs"
  else
    failed=$((failed + 1))
    why=$(reason_of "$log" "$rc" "$limit")
    [ $rc -eq 124 ] || [ $rc -eq 137 ] && echo "mosquitto-suite: killed after ${limit}s" >> "$log"
    printf '%s\tFAIL\t%s\t%s\n' "$n" "$secs" "$why$extra$note" >> "$results"
    printf '[%3d/%d] FAIL %s (%s s): %s\n' "$i" "$total" "$n" "$secs" "${why:0:160}"
  fi
done
rm -f "$before"

echo "mosquitto-suite: results in $results (logs in $work/logs), $(( $(date +%s) - suite_start )) s"
echo "mosquitto-suite: $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]

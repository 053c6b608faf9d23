#!/usr/bin/env bash
# Runs OpenStack Swift's own functional tests (test/functional of the swift
# sdist pinned in conformance/requirements.txt) against a fresh `martlet dev`,
# one pytest run per suite file, and prints a per-file table.
#
#   conformance/run.sh FILE...        e.g. conformance/run.sh test_object.py tests.py
#   make conformance                  the files of CONFORMANCE_FILES (Makefile)
#
# Exit status 0 only when every test of every file passed or was skipped.
#
# Steps: (1) a virtualenv of its own with the suite's dependencies, and the
# swift sdist unpacked (the wheel has no test/); (2) `martlet dev` on a free
# port in a temporary data dir, waiting for /healthcheck; (3) the suite's
# users: if the dev proxy does not declare them, a second proxy of the same
# cluster on a config that does (conformance/suite_config.py); (4) pytest per
# file under a timeout; (5) the table (conformance/report.py). Every process
# it started is stopped on exit, failures and Ctrl-C included.
#
# Env: CONFORMANCE_DIR  venv, sdist and results (default <repo>/.conformance)
#      MARTLET          the martlet command (default <repo>/.venv/bin/martlet)
#      FILE_TIMEOUT     seconds per suite file (default 600)
#      START_TIMEOUT    seconds for the cluster to answer (default 120)
#      PYTEST_ARGS      extra pytest arguments, e.g. -k "not testFoo"
#      AUTH_URL         test this v1 auth endpoint instead of starting a cluster
#      KEEP_DATA=1      keep the cluster's data dir (its logs are copied anyway)
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERE="$ROOT/conformance"
WORK="${CONFORMANCE_DIR:-$ROOT/.conformance}"
MARTLET="${MARTLET:-$ROOT/.venv/bin/martlet}"
FILE_TIMEOUT="${FILE_TIMEOUT:-600}"
START_TIMEOUT="${START_TIMEOUT:-120}"
VENV="$WORK/venv"
PY="$VENV/bin/python"
SWIFT_VERSION=$(sed -n 's/^swift==//p' "$HERE/requirements.txt")
SRC="$WORK/swift-$SWIFT_VERSION"
OUT="$WORK/out/$(date +%Y%m%d-%H%M%S)"

[ $# -gt 0 ] || { echo "usage: $0 FILE... (files of swift's test/functional)" >&2; exit 2; }
FILES=("${@#test/functional/}")
mkdir -p "$OUT" && ln -sfn "$OUT" "$WORK/out/latest"
log() { echo "conformance: $*" >&2; }

# --- (1) the suite's own virtualenv and source -------------------------------
if ! cmp -s "$HERE/requirements.txt" "$VENV/requirements.txt"; then
  log "installing the suite's dependencies into $VENV"
  rm -rf "$VENV" && python3 -m venv "$VENV" &&
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$HERE/requirements.txt" >"$WORK/pip.log" 2>&1 &&
    cp "$HERE/requirements.txt" "$VENV/requirements.txt" || { cat "$WORK/pip.log" >&2; log "pip install failed"; exit 1; }
fi
if [ ! -d "$SRC/test/functional" ]; then
  log "fetching the swift $SWIFT_VERSION sdist (its test/functional)"
  "$VENV/bin/pip" download -q --disable-pip-version-check --no-binary :all: --no-deps \
      "swift==$SWIFT_VERSION" -d "$WORK/sdist" >"$WORK/pip.log" 2>&1 &&
    tar xzf "$WORK/sdist/swift-$SWIFT_VERSION.tar.gz" -C "$WORK" || { cat "$WORK/pip.log" >&2; log "sdist download failed"; exit 1; }
fi

# --- (2) a fresh cluster, stopped on every way out ---------------------------
DATA=""
SUITE_PID=""  # the pytest run in progress
STARTED=()   # pids we started, stopped in reverse order
CHILDREN=()  # the dev launcher's daemons, in case it dies before stopping them

alive() { kill -0 "$1" 2>/dev/null; }

stop_pid() {  # SIGTERM, up to 30 s (the launcher itself waits 10 s per daemon), then SIGKILL
  local pid=$1 i
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null
  for i in $(seq 300); do alive "$pid" || break; sleep 0.1; done
  alive "$pid" && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}

cleanup() {
  local i pid
  trap - EXIT INT TERM HUP
  [ -n "$SUITE_PID" ] && stop_pid "$SUITE_PID"  # timeout(1) passes SIGTERM on to pytest
  for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do stop_pid "${STARTED[i]}"; done
  for pid in "${CHILDREN[@]}"; do alive "$pid" && kill -KILL "$pid" 2>/dev/null; done
  if [ -n "$DATA" ]; then
    [ -d "$DATA/cluster/logs" ] && cp -r "$DATA/cluster/logs" "$OUT/cluster-logs"
    if [ -z "${KEEP_DATA:-}" ]; then rm -rf "$DATA"; else log "data dir kept: $DATA"; fi
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wait_healthy() {  # URL PID: until URL answers 200, PID dies, or START_TIMEOUT passes
  local url=$1 pid=$2 deadline=$((SECONDS + START_TIMEOUT))
  while [ $SECONDS -lt $deadline ]; do
    alive "$pid" || { log "process $pid exited before $url answered"; return 1; }
    "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$url" \
      2>/dev/null && return 0
    sleep 0.5
  done
  log "$url did not answer within ${START_TIMEOUT}s"; return 1
}

start_cluster() {  # sets AUTH_URL
  local port proxy_port conf
  DATA=$(mktemp -d "${TMPDIR:-/tmp}/martlet-conformance.XXXXXX")
  port=$(free_port)
  # Storage ports are the launcher's business (fixed, or derived from --port).
  "$MARTLET" dev --data-dir "$DATA/cluster" --port "$port" >"$OUT/martlet-dev.log" 2>&1 &
  STARTED+=($!)
  if ! wait_healthy "http://127.0.0.1:$port/healthcheck" "${STARTED[0]}"; then
    tail -n 20 "$OUT/martlet-dev.log" >&2; return 1
  fi
  mapfile -t CHILDREN < <(ps -o pid= --ppid "${STARTED[0]}" | tr -d ' ')
  AUTH_URL="http://127.0.0.1:$port/auth/v1.0"
  if ! "$PY" "$HERE/suite_config.py" check "$DATA/cluster/proxy.conf" >"$OUT/users.txt"; then
    log "the dev proxy lacks some of the suite's users; a second proxy declares them:"
    cat "$OUT/users.txt" >&2
    proxy_port=$(free_port)
    conf="$DATA/cluster/conformance-proxy.conf"
    "$PY" "$HERE/suite_config.py" patch "$DATA/cluster/proxy.conf" "$conf" "$proxy_port" || return 1
    "$MARTLET" proxy --config "$conf" >"$OUT/conformance-proxy.log" 2>&1 &
    STARTED+=($!)
    wait_healthy "http://127.0.0.1:$proxy_port/healthcheck" "$!" || return 1
    AUTH_URL="http://127.0.0.1:$proxy_port/auth/v1.0"
  fi
}

if [ -z "${AUTH_URL:-}" ]; then
  start_cluster || { log "the cluster did not start; logs in $OUT"; exit 1; }
fi
"$PY" "$HERE/suite_config.py" verify "$AUTH_URL" || exit 1
"$PY" "$HERE/suite_config.py" test-conf "$AUTH_URL" "$OUT/test.conf"
log "testing $AUTH_URL; results in $OUT"

# --- (3) one pytest run per file ---------------------------------------------
PYTEST_EXTRA=()
[ -n "${PYTEST_ARGS:-}" ] && eval "PYTEST_EXTRA=($PYTEST_ARGS)"
for f in "${FILES[@]}"; do
  name="${f%.py}" start=$SECONDS
  name="${name//\//_}"  # s3api/test_object.py -> s3api_test_object (beside test_object)
  # In the background and waited for, so that a signal reaches our trap at once.
  ( cd "$SRC" && SWIFT_TEST_CONFIG_FILE="$OUT/test.conf" SWIFT_TEST_IN_PROCESS=0 \
      exec timeout -k 10 "$FILE_TIMEOUT" "$PY" -m pytest -q -rs -p no:cacheprovider -o addopts= \
      --junitxml="$OUT/$name.xml" "${PYTEST_EXTRA[@]}" "test/functional/$f" ) >"$OUT/$name.log" 2>&1 &
  SUITE_PID=$!
  wait "$SUITE_PID"
  echo $? >"$OUT/$name.rc"
  SUITE_PID=""
  log "$f done in $((SECONDS - start))s: $(tail -n 1 "$OUT/$name.log")"
done

# --- (4) the table -----------------------------------------------------------
"$PY" "$HERE/report.py" details "$OUT" "${FILES[@]}" >"$OUT/not-passed.txt"
echo "not passed: $OUT/not-passed.txt (logs, junit xml, test.conf beside it)"
"$PY" "$HERE/report.py" table "$OUT" "${FILES[@]}" | tee "$OUT/summary.txt"
exit "${PIPESTATUS[0]}"

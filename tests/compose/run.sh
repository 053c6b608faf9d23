#!/usr/bin/env bash
# make compose-test: the compose cluster built and exercised for real.
#
# Needs a Docker engine with the Compose v2 plugin and the Dockerfile's base
# image; when one of them is missing it runs ../shared/docker/setup-docker.sh
# (relative to the checkout; SETUP_DOCKER overrides the path), which installs
# and starts one (as root; through sudo otherwise). Then, in a throw-away
# copy of the checkout (an operator's folder: ring-init writes .env into it,
# the scale-out step adds docker-compose.override.yml), under a unique
# project name and a free proxy port, it runs tests/compose/scenario.py.
# Whatever happens, it leaves no container, network or volume of the project
# behind (and no dangling martlet image): the trap below removes them and
# fails the run if any survives.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
SETUP=${SETUP_DOCKER:-$ROOT/../shared/docker/setup-docker.sh}
BASE=$(awk 'toupper($1)=="FROM"{print $2; exit}' "$ROOT/Dockerfile")
STARTED=$(date +%s)

log() { printf '[compose-test %s] %s\n' "$(date +%T)" "$*"; }
die() { log "ERROR: $*" >&2; exit 1; }

engine_ready() {
    docker info >/dev/null 2>&1 && docker compose version >/dev/null 2>&1 \
        && docker image inspect "$BASE" >/dev/null 2>&1
}

if ! engine_ready; then
    [ -f "$SETUP" ] || die "no Docker engine with compose v2 and $BASE answers, and $SETUP is not there to set one up (set SETUP_DOCKER, or start dockerd by hand)"
    log "no Docker engine with compose v2 and $BASE: running $SETUP"
    if [ "$(id -u)" = 0 ]; then bash "$SETUP" "$ROOT/Dockerfile"; else sudo bash "$SETUP" "$ROOT/Dockerfile"; fi
    engine_ready || die "$SETUP ran, but still no Docker engine with compose v2 and $BASE"
fi
[ -x "$PY" ] || die "$PY missing: run make compose-test (it creates .venv)"

export COMPOSE_PROJECT_NAME="martletct$(date +%s)$$"
export MARTLET_PORT
MARTLET_PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
WORK=$(mktemp -d "${TMPDIR:-/tmp}/martlet-compose-test.XXXXXX")
LABEL="com.docker.compose.project=$COMPOSE_PROJECT_NAME"

leftovers() {
    docker ps -aq --filter "label=$LABEL"
    docker network ls -q --filter "label=$LABEL"
    docker volume ls -q --filter "label=$LABEL"
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    if [ "$rc" -ne 0 ] && [ -f "$WORK/docker-compose.yml" ]; then
        log "failed ($rc); the last log lines of each service:"
        (cd "$WORK" && docker compose logs --no-color --tail 30 2>&1 | tail -200)
    fi
    if [ -f "$WORK/docker-compose.yml" ]; then
        (cd "$WORK" && docker compose down -v --remove-orphans --timeout 20 >/dev/null 2>&1)
    fi
    # Whatever down missed (or could not reach without the compose files).
    docker ps -aq --filter "label=$LABEL" | xargs -r docker rm -f >/dev/null 2>&1
    docker network ls -q --filter "label=$LABEL" | xargs -r docker network rm >/dev/null 2>&1
    docker volume ls -q --filter "label=$LABEL" | xargs -r docker volume rm -f >/dev/null 2>&1
    docker image prune -f --filter "label=org.opencontainers.image.title=martlet" >/dev/null 2>&1
    rm -rf "$WORK"
    if [ -n "$(leftovers)" ]; then
        log "ERROR: left behind: $(leftovers | tr '\n' ' ')"
        rc=1
    fi
    log "$([ "$rc" = 0 ] && echo passed || echo FAILED) in $(( $(date +%s) - STARTED ))s; image $(docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' "${MARTLET_IMAGE:-martlet:local}" 2>/dev/null)"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "project $COMPOSE_PROJECT_NAME, proxy on 127.0.0.1:$MARTLET_PORT, in $WORK"
tar -C "$ROOT" --exclude=./.git --exclude=./.venv --exclude=./.dev-cluster --exclude=./.conformance \
    --exclude=./.env --exclude=./docker-compose.override.yml --exclude='__pycache__' -cf - . | tar -C "$WORK" -xf -
cd "$WORK"

# The image is built before the scenario, whose `up --build` then finds every
# layer in the build cache. An engine whose build cache names a layer that its
# image store no longer holds fails any cached build with "failed to solve:
# layer does not exist" (CI's engine did, every step CACHED); that is the
# engine's state, not the checkout's, so the image is built once more without
# the cache, which leaves the cache whole for the scenario's builds.
build_image() {
    local out
    if out=$(docker compose build 2>&1); then return 0; fi
    printf '%s\n' "$out" | tail -25
    grep -q 'layer does not exist' <<<"$out" || return 1
    log "the engine's build cache names a layer it no longer has: building again with --no-cache"
    docker compose build --no-cache
}
log "building the image"
build_image
PATH="$ROOT/.venv/bin:$PATH" "$PY" "$ROOT/tests/compose/scenario.py"

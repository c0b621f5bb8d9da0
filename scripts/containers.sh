#!/usr/bin/env bash
# Container tooling for `make test-containers`: a local Docker engine, a Debian base image built
# with debootstrap (no registry pulls) and the training-task image built from the host wheelhouse.
#
#   scripts/containers.sh engine-start   install docker.io/debootstrap/docker-compose if missing; start dockerd if none answers
#   scripts/containers.sh engine-stop    stop the dockerd that engine-start started (by its recorded pid)
#   scripts/containers.sh base-image     debootstrap bookworm and `docker import` it as $MLOPS_BASE_IMAGE
#   scripts/containers.sh image          refresh the wheelhouse and `docker build` $MLOPS_TEST_IMAGE
#
# The engine runs without Docker's bridge network or iptables rules: every container this
# project starts uses `--network host`. State kept between runs lives in .cache/containers/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache/containers"
BASE_IMAGE="${MLOPS_BASE_IMAGE:-mlops-base:bookworm}"
IMAGE="${MLOPS_TEST_IMAGE:-mlops-platform:test}"
SUITE=bookworm
# libgomp1: the OpenMP runtime that lightgbm and xgboost load (python:3.11-slim lacks it as well,
# so the Dockerfile installs it with apt when the base image has none)
INCLUDE=python3,python3-venv,python3-pip,libgomp1
PID_FILE="$CACHE/dockerd.pid"
CHILDREN_FILE="$CACHE/dockerd.children"
ENGINE_LOG="$CACHE/dockerd.log"
ENGINE_WAIT="${MLOPS_ENGINE_WAIT:-60}"
STOP_GRACE="${MLOPS_ENGINE_STOP_GRACE:-30}"
WHEELHOUSE="$ROOT/wheelhouse"
# The legacy builder: the `# syntax=` line of the Dockerfile would make BuildKit pull its
# frontend from Docker Hub, which is not reachable here (and docker.io ships no buildx).
export DOCKER_BUILDKIT=0

say() { printf '==> %s\n' "$*"; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}
took() { say "$1 done in $(($(date +%s) - $2)) s"; }

need_root() {
    [[ $(id -u) -eq 0 ]] || die "$1 needs root (run as root, or do it by hand: $2)"
}

# -- engine -------------------------------------------------------------------------------

install_packages() {
    local missing=()
    command -v dockerd >/dev/null || missing+=(docker.io)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    command -v docker-compose >/dev/null || missing+=(docker-compose)  # validates docker-compose.yml
    [[ ${#missing[@]} -eq 0 ]] && return 0
    need_root "installing ${missing[*]}" "apt-get install -y ${missing[*]}"
    command -v apt-get >/dev/null || die "${missing[*]} missing and no apt-get to install it"
    local start
    start=$(date +%s)
    say "installing ${missing[*]} with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    command -v dockerd >/dev/null || die "dockerd still missing after installing docker.io"
    command -v docker >/dev/null || die "docker (the client) still missing after installing docker.io"
    took "package install" "$start"
}

# The pid in PID_FILE if that process is still a running dockerd, else nothing.
recorded_engine_pid() {
    [[ -f $PID_FILE ]] || return 0
    local pid
    pid=$(<"$PID_FILE")
    if [[ $pid =~ ^[0-9]+$ ]] && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == dockerd ]]; then
        echo "$pid"
    fi
}

engine_start() {
    install_packages
    command -v docker >/dev/null || die "no docker client on PATH (install docker.io)"
    if docker info >/dev/null 2>&1; then
        say "a Docker engine already answers; using it (engine-stop will leave it running)"
        return 0
    fi
    need_root "starting dockerd" "dockerd --bridge=none --iptables=false --ip-masq=false"
    mkdir -p "$CACHE"
    local pid
    pid=$(recorded_engine_pid)
    if [[ -n $pid ]]; then
        die "dockerd $pid (from $PID_FILE) runs but does not answer; see $ENGINE_LOG or run engine-stop"
    fi
    rm -f "$PID_FILE" "$CHILDREN_FILE"
    local start
    start=$(date +%s)
    say "starting dockerd (no bridge, no iptables; log in ${ENGINE_LOG#"$ROOT"/})"
    # its own session: a Ctrl-C in the terminal reaches make, which then runs engine-stop
    setsid dockerd --bridge=none --iptables=false --ip-masq=false >"$ENGINE_LOG" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PID_FILE"
    local deadline=$((SECONDS + ENGINE_WAIT))
    until docker info >/dev/null 2>&1; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PID_FILE"
            tail -n 20 "$ENGINE_LOG" >&2 || true
            die "dockerd exited during start-up (log above, full log in $ENGINE_LOG)"
        fi
        if ((SECONDS >= deadline)); then
            tail -n 20 "$ENGINE_LOG" >&2 || true
            die "dockerd $pid did not answer within $ENGINE_WAIT s (log above); stop it with engine-stop"
        fi
        sleep 0.5
    done
    # dockerd starts its own containerd; remember it in case dockerd has to be killed
    pgrep -P "$pid" >"$CHILDREN_FILE" || true
    took "engine start (dockerd pid $pid, $(docker info --format '{{.ServerVersion}} {{.Driver}}'))" "$start"
}

# TERM the process, wait up to STOP_GRACE seconds, then KILL it.
stop_pid() {
    local pid=$1 name=$2 deadline
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + STOP_GRACE))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "$name $pid still runs after $STOP_GRACE s; sending KILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.5
    fi
}

engine_stop() {
    local pid child comm
    pid=$(recorded_engine_pid)
    if [[ -z $pid ]]; then
        [[ -f $PID_FILE ]] && say "dockerd from $PID_FILE is no longer running"
        rm -f "$PID_FILE" "$CHILDREN_FILE"
        say "no engine started by this script is running; nothing to stop"
        return 0
    fi
    say "stopping dockerd $pid"
    stop_pid "$pid" dockerd
    # a containerd that dockerd left behind (only if it was killed): stop it by its recorded pid
    if [[ -f $CHILDREN_FILE ]]; then
        while read -r child; do
            comm=$(cat "/proc/$child/comm" 2>/dev/null || true)
            if [[ $comm == containerd* ]]; then
                say "stopping $comm $child left by dockerd"
                stop_pid "$child" "$comm"
            fi
        done <"$CHILDREN_FILE"
    fi
    kill -0 "$pid" 2>/dev/null && die "dockerd $pid could not be stopped"
    rm -f "$PID_FILE" "$CHILDREN_FILE"
    say "engine stopped"
}

# -- base image ----------------------------------------------------------------------------

# The Debian mirror apt uses on this machine ($MLOPS_DEBIAN_MIRROR overrides it).
debian_mirror() {
    if [[ -n ${MLOPS_DEBIAN_MIRROR:-} ]]; then
        echo "$MLOPS_DEBIAN_MIRROR"
        return
    fi
    local found
    found=$(
        {
            awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' /etc/apt/sources.list.d/*.sources 2>/dev/null
            awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' \
                /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null
        } | grep -E '/debian/?$' | head -n 1 || true
    )
    echo "${found:-http://deb.debian.org/debian}"
}

base_image() {
    command -v docker >/dev/null || die "no docker client on PATH (run engine-start first)"
    docker info >/dev/null 2>&1 || die "no Docker engine answers (run engine-start first)"
    # the label names what went into the rootfs: a change of SUITE or INCLUDE makes a new one
    local key found
    key="$SUITE-minbase-$(echo "$INCLUDE" | sha256sum | cut -c1-12)"
    found=$(docker image inspect --format '{{ index .Config.Labels "mlops.rootfs" }}' "$BASE_IMAGE" 2>/dev/null || true)
    if [[ $found == "$key" ]]; then
        say "base image $BASE_IMAGE ($key) is present"
        return 0
    fi
    [[ -n $found ]] && say "base image $BASE_IMAGE was built from another rootfs (${found}); replacing it"
    mkdir -p "$CACHE"
    local tarball="$CACHE/rootfs-$key.tar" start
    if [[ ! -s $tarball ]]; then
        command -v debootstrap >/dev/null || die "debootstrap is missing (run engine-start, or apt-get install debootstrap)"
        need_root "debootstrap" "debootstrap --variant=minbase --include=$INCLUDE $SUITE DIR"
        local mirror rootfs="$CACHE/rootfs.tmp"
        mirror=$(debian_mirror)
        if grep -q " ${rootfs}[/ ]" /proc/mounts; then
            die "$rootfs still has mounts from an earlier debootstrap; unmount them first"
        fi
        rm -rf "$rootfs"
        start=$(date +%s)
        say "debootstrap $SUITE (minbase + $INCLUDE) from $mirror"
        debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$rootfs" "$mirror" >"$CACHE/debootstrap.log" 2>&1 ||
            {
                tail -n 20 "$CACHE/debootstrap.log" >&2
                die "debootstrap failed (log above, full log in $CACHE/debootstrap.log)"
            }
        rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/*
        tar -C "$rootfs" --numeric-owner -cf "$tarball.tmp" .
        mv "$tarball.tmp" "$tarball"
        # tarballs of other SUITE/INCLUDE values are never used again
        find "$CACHE" -maxdepth 1 -name 'rootfs-*.tar' ! -path "$tarball" -delete
        grep -q " ${rootfs}[/ ]" /proc/mounts || rm -rf "$rootfs"
        took "debootstrap ($(du -h "$tarball" | cut -f1) rootfs tarball cached)" "$start"
    else
        say "using the cached rootfs ${tarball#"$ROOT"/}"
    fi
    start=$(date +%s)
    say "docker import as $BASE_IMAGE"
    docker import --change 'ENV LANG=C.UTF-8' --change "LABEL mlops.rootfs=$key" --change 'CMD ["python3"]' \
        - "$BASE_IMAGE" <"$tarball" >/dev/null
    took "import of $BASE_IMAGE" "$start"
}

# -- training-task image -------------------------------------------------------------------

# Rebuild the dependency wheels when the lock or the project metadata changed, and the
# package wheel when anything under src/ changed; otherwise keep the wheelhouse as it is.
refresh_wheelhouse() {
    local deps_key project_key start
    deps_key=$(cat "$ROOT/uv.lock" "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)
    project_key=$(
        cd "$ROOT"
        find src pyproject.toml README.md -type f ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 |
            sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16
    )
    if [[ $(cat "$WHEELHOUSE/.deps-key" 2>/dev/null) != "$deps_key" ]]; then
        start=$(date +%s)
        say "building the wheelhouse (runtime dependencies from uv.lock and the package)"
        make -C "$ROOT" --no-print-directory wheelhouse
        echo "$deps_key" >"$WHEELHOUSE/.deps-key"
        echo "$project_key" >"$WHEELHOUSE/.project-key"
        took "wheelhouse" "$start"
    elif [[ $(cat "$WHEELHOUSE/.project-key" 2>/dev/null) != "$project_key" ]]; then
        start=$(date +%s)
        say "the dependency wheels are current; rebuilding the package wheel"
        make -C "$ROOT" --no-print-directory wheelhouse-project
        echo "$project_key" >"$WHEELHOUSE/.project-key"
        took "package wheel" "$start"
    else
        say "wheelhouse is current"
    fi
}

build_image() {
    command -v docker >/dev/null || die "no docker client on PATH (run engine-start first)"
    docker info >/dev/null 2>&1 || die "no Docker engine answers (run engine-start first)"
    docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 || die "base image $BASE_IMAGE is missing (run base-image first)"
    refresh_wheelhouse
    local start size
    start=$(date +%s)
    say "docker build $IMAGE from $BASE_IMAGE"
    docker build --network host --build-arg BASE_IMAGE="$BASE_IMAGE" -t "$IMAGE" "$ROOT"
    size=$(docker image inspect --format '{{.Size}}' "$IMAGE")
    took "image build ($IMAGE, $((size / 1000000)) MB)" "$start"
}

case "${1:-}" in
engine-start) engine_start ;;
engine-stop) engine_stop ;;
base-image) base_image ;;
image) build_image ;;
*) die "usage: $0 engine-start|engine-stop|base-image|image" ;;
esac

#!/usr/bin/env bash
# One script, two commands (see README):
#   ./install.sh run    install everything, then start the IVR on the embedded defaults
#   ./install.sh test   install everything plus the test peers and services, then run the whole test suite
set -euo pipefail
cd "$(dirname "$0")"
mode="${1:-run}"; shift || true

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

RUN_DEBS=(espeak-ng libespeak-ng1 sox python3-venv python3-dev gcc)
TEST_DEBS=(baresip-core sip-tester sipvicious netcat-openbsd tcpdump chromium postgresql redis-server)

apt_ensure() {
  local missing=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "install.sh: installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q "${missing[@]}"
  fi
}

pick_python() {
  for py in python3.11 python3.12 python3.13 python3; do
    if command -v "$py" >/dev/null && "$py" -c 'import sys; sys.exit(0 if (3,11) <= sys.version_info[:2] < (3,14) else 1)'; then
      echo "$py"; return
    fi
  done
  echo "install.sh: Python 3.11-3.13 is required" >&2; exit 1
}

venv_ensure() {
  local extra="$1"
  if [ ! -x .venv/bin/python ]; then "$(pick_python)" -m venv .venv; fi
  local stamp=".venv/.installed-$extra"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    if [ "$extra" = "run" ]; then .venv/bin/python -m pip install -q -e .; else .venv/bin/python -m pip install -q -e ".[test]"; fi
    touch "$stamp"
  fi
}

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

services_ensure() {
  # PostgreSQL: start the cluster if it is down; make a role for this user and a database named test.
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
  fi
  local me; me="$(id -un)"
  as_postgres psql -qtAc "SELECT 1 FROM pg_roles WHERE rolname='$me'" 2>/dev/null | grep -q 1 \
    || as_postgres createuser -s "$me" || echo "install.sh: could not create PostgreSQL role $me" >&2
  as_postgres psql -qtAc "SELECT 1 FROM pg_database WHERE datname='test'" 2>/dev/null | grep -q 1 \
    || as_postgres createdb -O "$me" test || echo "install.sh: could not create PostgreSQL database test" >&2
  # Redis: start it if it does not answer.
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    $SUDO mkdir -p /var/lib/redis /var/log/redis
    $SUDO redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log
    for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.2; done
  fi
}

case "$mode" in
  run)
    apt_ensure "${RUN_DEBS[@]}"
    venv_ensure run
    # first run on the embedded defaults: the demo logins of config/bridge.yaml are accepted (the desk warns);
    # production starts `hotline serve` itself and is refused until they are changed (HOTLINE_DEMO=0 here too)
    HOTLINE_DEMO="${HOTLINE_DEMO:-1}" exec .venv/bin/hotline serve "$@"
    ;;
  test)
    apt_ensure "${RUN_DEBS[@]}" "${TEST_DEBS[@]}"
    venv_ensure test
    services_ensure
    .venv/bin/ruff check .
    .venv/bin/mypy
    exec .venv/bin/python -m pytest "$@"
    ;;
  *)
    echo "usage: ./install.sh run|test [args]" >&2; exit 2 ;;
esac

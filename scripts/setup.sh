#!/usr/bin/env bash
# Install everything the product needs on a Debian machine with Python 3.11: system libraries, the project
# venv at .venv with pinned packages. Idempotent and quick when nothing is missing.
#   scripts/setup.sh          product only
#   scripts/setup.sh --test   also the test tools, Chromium, MariaDB and Redis server packages
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_TEST=0
[ "${1:-}" = "--test" ] && WITH_TEST=1

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
need_pkgs=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
# espeak-ng: the waiting-hall display's spoken calls in Vietnamese (appointments/hall.py).
for p in pkg-config libmariadb-dev gcc g++ libicu-dev python3-dev libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core espeak-ng; do
  have_pkg "$p" || need_pkgs+=("$p")
done
if [ "$WITH_TEST" = 1 ]; then
  [ -x /usr/bin/chromium ] || need_pkgs+=(chromium)
  command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need_pkgs+=(mariadb-server)
  command -v redis-server >/dev/null 2>&1 || need_pkgs+=(redis-server)
  command -v npm >/dev/null 2>&1 || need_pkgs+=(nodejs npm)
  command -v curl >/dev/null 2>&1 || need_pkgs+=(curl)
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "==> apt-get install ${need_pkgs[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PY" -m venv .venv
fi
extras=""
stamp=".venv/.installed"
if [ "$WITH_TEST" = 1 ]; then
  extras="[test]"
  stamp=".venv/.installed-test"
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "==> installing Python packages into .venv"
  .venv/bin/pip install -q --disable-pip-version-check --upgrade pip >/dev/null
  .venv/bin/pip install -q --disable-pip-version-check -e ".${extras}"
  touch "$stamp"
fi

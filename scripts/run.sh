#!/usr/bin/env bash
# Set up and run the product on its embedded default: SQLite, no Redis, demo data, web server + worker.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export SMS_BACKEND=${SMS_BACKEND:-console}
export PORT=${PORT:-8000}
# Only this machine can reach the server unless HOST says otherwise (e.g. HOST=0.0.0.0 on a station's LAN).
export HOST=${HOST:-127.0.0.1}
export PORTAL_URL=${PORTAL_URL:-http://127.0.0.1:$PORT}
# The demo is plain HTTP: cookies without the Secure flag (production runs behind HTTPS, docs/operations.md).
export SECURE_COOKIES=${SECURE_COOKIES:-0}
unset DATABASE_URL REDIS_URL TASKS_EAGER || true
PY=.venv/bin/python
$PY manage.py migrate --noinput -v0
# The demo province on the first start only: later starts never touch accounts (nor re-grant the superuser).
$PY manage.py seed_demo --first-run
$PY manage.py collectstatic --noinput -v0

$PY manage.py run_huey --quiet &
WORKER=$!
trap 'kill $WORKER 2>/dev/null || true' EXIT INT TERM

cat <<MSG

  health_f0 is running at $PORTAL_URL
    Portal (patients):  $PORTAL_URL/
    Desk (staff):       $PORTAL_URL/desk/
    API docs:           $PORTAL_URL/api/docs/
  Demo logins (password demo-2026): admin, syt.lanhdao, ttyt.lanhdao, thanhdong.nv, thanhdong.truong,
    lethanhnghi.nv, tanhung.nv, bacsi.dieutri, bacsi.noi, datlich, tiepdon, lienket.his; patient bn0000001.
  SMS (OTP codes, accounts) are printed in this terminal (SMS_BACKEND=$SMS_BACKEND).
  Stop with Ctrl+C.

MSG
BIND="$HOST:$PORT"
[[ "$HOST" == *:* ]] && BIND="[$HOST]:$PORT"  # an IPv6 address
.venv/bin/gunicorn health_f0.wsgi:application --bind "$BIND" --workers 2 --threads 4 \
  --config bench/gunicorn_conf.py --access-logfile - --log-level warning

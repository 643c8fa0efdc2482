#!/usr/bin/env bash
# Load test of POST /api/v1/declarations: gunicorn (2 workers) on MariaDB + Redis, DEBUG off, tasks queued
# (not run inline), 16 concurrent wrk connections each request with a different patient token.
# Needs the data of bench/generate.py (tokens in bench/out/tokens.txt) and wrk (apt-get install wrk).
#
#   bench/declarations.sh                 # sync and gthread, 30 s each after a 5 s warm-up
#   WORKER_CLASSES=gthread RUNS=3 bench/declarations.sh
#   PROFILE=1 WORKER_CLASSES=gthread bench/declarations.sh   # py-spy record of one worker (bench/out/profile-*.json)
#   GUNICORN_CONFIG= bench/declarations.sh   # without bench/gunicorn_conf.py (gunicorn's and Python's defaults)
#   ONE_TOKEN=1 WORKER_CLASSES=gthread bench/declarations.sh   # one patient's token x 16 connections (a looping
#       client): past DECLARATIONS_PER_DAY every answer is a 429; DECLARATIONS_PER_DAY=100000 lets it loop
# Each run first deletes the declarations of earlier runs (idempotency keys "wrk-…"; see bench/loadtest.py).
set -euo pipefail
cd "$(dirname "$0")/.."

export DATABASE_URL="${DATABASE_URL:-mysql://health_f0_test:health_f0_test@127.0.0.1:3306/hf0_bench}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/14}"
export CACHE_PREFIX="${CACHE_PREFIX:-hf0bench}"
export HUEY_NAME="${HUEY_NAME:-hf0bench}"
export SECRET_KEY="${SECRET_KEY:-bench-secret-key-not-for-production-0123456789abcdef}"
export DEBUG=0 TASKS_EAGER=0 SMS_BACKEND=file LOG_LEVEL=WARNING
export VAR_DIR="$PWD/var/bench"
mkdir -p "$VAR_DIR" bench/out
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk"; exit 1; }
[ -s bench/out/tokens.txt ] || { echo "no tokens: run bench/generate.py first"; exit 1; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
config="${GUNICORN_CONFIG-bench/gunicorn_conf.py}"
suffix=""; [ -n "$config" ] || suffix="-noconf"
for class in ${WORKER_CLASSES:-gthread sync}; do
  for run in $(seq 1 "${RUNS:-1}"); do
    .venv/bin/python bench/loadtest.py --worker-class "$class" --workers "${WORKERS:-2}" --threads "${THREADS:-4}" \
      --connections "${CONNECTIONS:-16}" --duration "${DURATION:-30}" --warmup "${WARMUP:-5}" \
      --config "$config" --label "$class$suffix${ONE_TOKEN:+-onetoken}-run$run" ${PROFILE:+--profile} \
      ${ONE_TOKEN:+--one-token}
  done
done

#!/usr/bin/env bash
# A real FHIR R4 server for the HIS adapter tests: sekmet-fhir 0.1.1 (a micro HIS) in its own venv, with its
# simulator off and an in-memory store, on 127.0.0.1 and a free port.
#
#   scripts/fhir_server.sh install          create the venv (var/fhir-venv) and install sekmet-fhir
#   scripts/fhir_server.sh start [PORT]     install if needed, start, wait until ready; prints the FHIR base URL
#   scripts/fhir_server.sh stop             stop the server started by `start`
#   scripts/fhir_server.sh url              print the running server's base URL (exit 1 if none)
#
# Typical use (scripts/test.sh):  export HIS_FHIR_BASE_URL="$(scripts/fhir_server.sh start)"
# Logs go to var/fhir-run/server.log; everything else is on stderr so stdout is only the URL.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
VENV="${FHIR_VENV:-$ROOT/var/fhir-venv}"
RUN_DIR="$(realpath -m "${FHIR_RUN_DIR:-$ROOT/var/fhir-run}")"  # absolute: start() changes directory
PIN="sekmet-fhir==0.1.1"

log() { echo "fhir_server: $*" >&2; }

install() {
  # (Read pip's answer whole: `pip show | grep -q` under pipefail fails on pip's SIGPIPE.)
  local shown=""
  [ -x "$VENV/bin/sekmet" ] && shown="$("$VENV/bin/pip" show sekmet-fhir 2>/dev/null || true)"
  if printf '%s\n' "$shown" | grep -qx 'Version: 0.1.1'; then
    return 0
  fi
  log "creating $VENV and installing $PIN"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "$PIN" >&2
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

running_url() {
  [ -f "$RUN_DIR/pid" ] && [ -f "$RUN_DIR/url" ] || return 1
  kill -0 "$(cat "$RUN_DIR/pid")" 2>/dev/null || return 1
  curl -fsS -o /dev/null "$(cat "$RUN_DIR/url")/metadata" 2>/dev/null || return 1
  cat "$RUN_DIR/url"
}

start() {
  if url="$(running_url)"; then echo "$url"; return 0; fi
  install
  local port="${1:-$(free_port)}"
  local url="http://127.0.0.1:$port/fhir"
  mkdir -p "$RUN_DIR"
  # Simulator off: nothing answers our Appointments or ServiceRequests behind our back. Validation "warn":
  # the store keeps what a real HIS would, the tests check our client, not SEKMET's validator.
  cat >"$RUN_DIR/settings.yaml" <<EOF
base_url: $url
host: 127.0.0.1
port: $port
data_dir: $RUN_DIR/data
own_private_key_path: $RUN_DIR/keys/sekmet_private.pem
facility_name: Bệnh viện thử nghiệm HIS
simulator: {enabled: false}
validation: {inbound: warn}
log_inbound: false
EOF
  log "starting sekmet on $url"
  # exec: the saved pid is sekmet itself (so `stop` stops it); no descriptor of ours stays open in it, so
  # `$(fhir_server.sh start)` returns as soon as the URL is printed.
  (cd "$RUN_DIR" && exec env SEKMET_DB=":memory:" SEKMET_CONFIG="$RUN_DIR/settings.yaml" \
    "$VENV/bin/sekmet" serve --config "$RUN_DIR/settings.yaml" --host 127.0.0.1 --port "$port") \
    >"$RUN_DIR/server.log" 2>&1 </dev/null &
  echo $! >"$RUN_DIR/pid"
  for _ in $(seq 1 150); do
    if curl -fsS -o /dev/null "$url/metadata" 2>/dev/null; then
      echo "$url" >"$RUN_DIR/url"
      echo "$url"
      return 0
    fi
    kill -0 "$(cat "$RUN_DIR/pid")" 2>/dev/null || break
    sleep 0.2
  done
  log "server did not become ready; see $RUN_DIR/server.log"
  tail -20 "$RUN_DIR/server.log" >&2 || true
  return 1
}

stop() {
  if [ -f "$RUN_DIR/pid" ]; then
    kill "$(cat "$RUN_DIR/pid")" 2>/dev/null || true
    rm -f "$RUN_DIR/pid" "$RUN_DIR/url"
  fi
}

case "${1:-start}" in
  install) install ;;
  start) shift || true; start "${1:-}" ;;
  stop) stop ;;
  url) running_url ;;
  *) echo "usage: $0 install|start [PORT]|stop|url" >&2; exit 2 ;;
esac

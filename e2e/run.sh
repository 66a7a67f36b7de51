#!/usr/bin/env bash
# npm run test:e2e: the end-to-end test against real Jaeger v2 and OpenTelemetry Collector binaries.
#
#   1. needs Go (the binaries are built from Go modules: no Docker engine is needed or used);
#   2. builds them once, or reuses them from ${ALM_E2E_CACHE:-$HOME/.cache/alm-otel-e2e} (e2e/build.sh);
#   3. validates docker-compose.yml, collector-config.yaml and the Jaeger config (e2e/validate-configs.sh);
#   4. runs the jest tests in test/e2e/ (e2e/jest.e2e.config.js), which start and stop the binaries.
#
# Extra arguments go to jest, e.g. `npm run test:e2e -- -t burst`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

if ! command -v go >/dev/null 2>&1; then
  cat >&2 <<'EOF'
e2e: FAILED: Go is not installed, and the end-to-end test builds Jaeger v2 and an OpenTelemetry
Collector from Go modules (no Docker engine is needed).
Install Go 1.26 or later from https://go.dev/dl/ and put it on PATH, for example:
  tar -C /usr/local -xzf go1.26.*.linux-amd64.tar.gz && export PATH=$PATH:/usr/local/go/bin
then run `npm run test:e2e` again. (Debian's golang package is too old.)
EOF
  exit 1
fi

# The compose validator: Debian's docker-compose package checks the file without a Docker engine.
if ! command -v docker-compose >/dev/null 2>&1 && ! docker compose version >/dev/null 2>&1; then
  if [ "${CI:-}" = true ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "e2e: installing docker-compose (Debian package) to validate docker-compose.yml" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose) >&2 ||
      echo "e2e: apt-get install docker-compose failed" >&2
  fi
  if [ "${CI:-}" = true ]; then export ALM_E2E_REQUIRE_COMPOSE=1; fi
fi

BIN_DIR=$(bash e2e/build.sh)
bash e2e/validate-configs.sh "$BIN_DIR"

export ALM_E2E_JAEGER_BIN="$BIN_DIR/jaeger"
export ALM_E2E_OTELCOL_BIN="$BIN_DIR/otelcol-alm-e2e"

# The tests record the pid of every process they start here; whatever still runs when we leave
# (the test process crashed or was killed) is stopped by its recorded id.
# Their logs go there too: kept when the run fails, removed when it passes.
WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/alm-e2e-run-XXXXXX")
export ALM_E2E_PID_DIR="$WORK_DIR/pids" ALM_E2E_LOG_DIR="$WORK_DIR/logs"
mkdir -p "$ALM_E2E_PID_DIR" "$ALM_E2E_LOG_DIR"
cleanup() {
  local rc=$? f pid
  for f in "$ALM_E2E_PID_DIR"/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
      echo "e2e: stopping leftover process $pid ($(basename "$f" .pid))" >&2
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      sleep 2
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  if [ "$rc" = 0 ]; then
    rm -rf "$WORK_DIR"
  else
    rm -rf "$ALM_E2E_PID_DIR"
    echo "e2e: Jaeger and collector logs kept in $ALM_E2E_LOG_DIR" >&2
  fi
}
trap cleanup EXIT

# The OTLP exporter loads node:http with a dynamic import(), which jest's module sandbox only allows
# with --experimental-vm-modules.
export NODE_OPTIONS="--experimental-vm-modules --no-warnings=ExperimentalWarning ${NODE_OPTIONS:-}"

# jest runs in the background so that a signal to this script is handled at once (bash defers traps
# while a foreground child runs): stop jest, then the EXIT trap stops whatever it left running.
node_modules/.bin/jest -c e2e/jest.e2e.config.js --runInBand "$@" &
JEST_PID=$!
on_signal() {
  trap - INT TERM
  kill -TERM "$JEST_PID" 2>/dev/null || true
  wait "$JEST_PID" 2>/dev/null || true
  exit "$1"
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
rc=0
wait "$JEST_PID" || rc=$?
exit "$rc"

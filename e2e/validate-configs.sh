#!/usr/bin/env bash
# Checks the user-facing configuration files with real validators:
#   - docker-compose.yml with `docker-compose config` (or `docker compose config`), which needs no
#     Docker engine;
#   - collector-config.yaml, unchanged, with the built collector's `validate`, and merged with the
#     test overlay as the e2e test runs it;
#   - e2e/jaeger-config.yaml with the built Jaeger's `validate`.
#
# Usage: e2e/validate-configs.sh [BIN_DIR]   (BIN_DIR from e2e/build.sh; built or reused if omitted)
# Set ALM_E2E_REQUIRE_COMPOSE=1 to fail, instead of warn, when no compose validator is installed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BIN_DIR=${1:-$(bash e2e/build.sh)}

status=0
say() { printf 'validate: %s\n' "$*" >&2; }

# 1. docker-compose.yml
compose=()
if command -v docker-compose >/dev/null 2>&1; then
  compose=(docker-compose)
elif docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
fi
if [ ${#compose[@]} -gt 0 ]; then
  if "${compose[@]}" -f docker-compose.yml config -q; then
    say "docker-compose.yml: OK ($("${compose[@]}" version --short 2>/dev/null || echo "${compose[*]}"))"
  else
    say "docker-compose.yml: INVALID"
    status=1
  fi
else
  say "docker-compose.yml: NOT CHECKED, no compose validator installed (Debian/Ubuntu: apt-get install docker-compose)"
  if [ "${ALM_E2E_REQUIRE_COMPOSE:-0}" = 1 ]; then status=1; fi
fi

# 2. collector-config.yaml, as users run it.
if "$BIN_DIR/otelcol-alm-e2e" validate --config collector-config.yaml; then
  say "collector-config.yaml: OK (otelcol validate)"
else
  say "collector-config.yaml: INVALID"
  status=1
fi

# 3. The same merged with the test overlay, and the Jaeger config (ports are placeholders here).
export ALM_E2E_COLLECTOR_GRPC_PORT=4317 ALM_E2E_COLLECTOR_HTTP_PORT=4318 ALM_E2E_COLLECTOR_HEALTH_PORT=13133 \
  ALM_E2E_COLLECTOR_METRICS_PORT=8888 ALM_E2E_METRICS_SINK_PORT=19090 ALM_E2E_JAEGER_GRPC_PORT=14317 ALM_E2E_JAEGER_QUERY_PORT=16686 \
  ALM_E2E_JAEGER_QUERY_GRPC_PORT=16685 ALM_E2E_JAEGER_HEALTH_PORT=13134 ALM_E2E_EVENTS_SINK_PORT=19091 \
  ALM_E2E_QUEUE_DIR=/tmp/alm-e2e-validate-queue
if "$BIN_DIR/otelcol-alm-e2e" validate --config collector-config.yaml --config e2e/collector-overlay.yaml; then
  say "collector-config.yaml + e2e/collector-overlay.yaml: OK"
else
  say "collector-config.yaml + e2e/collector-overlay.yaml: INVALID"
  status=1
fi
if "$BIN_DIR/jaeger" validate --config e2e/jaeger-config.yaml 2>/dev/null; then
  say "e2e/jaeger-config.yaml: OK (jaeger validate)"
else
  "$BIN_DIR/jaeger" validate --config e2e/jaeger-config.yaml || true
  say "e2e/jaeger-config.yaml: INVALID"
  status=1
fi

exit $status

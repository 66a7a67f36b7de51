#!/usr/bin/env bash
# Build, or reuse from the cache, the two binaries the end-to-end test runs:
#   jaeger           Jaeger v2.13.0 (Go module github.com/jaegertracing/jaeger v1.76.0), ./cmd/jaeger
#   otelcol-alm-e2e  an OpenTelemetry Collector built by ocb from e2e/otelcol-builder.yaml
#
# Prints the directory holding both binaries on stdout (and nothing else); progress goes to stderr.
#
# Cache: ${ALM_E2E_CACHE:-$HOME/.cache/alm-otel-e2e}/<key>, outside the clone, because CI starts
# from a fresh clone each run. The key names every input: Jaeger version, builder version, Go
# version, platform, and a hash of the build inputs in e2e/. A build goes into a temporary
# directory that is renamed into place only when complete, under a lock, so an interrupted or
# concurrent build never leaves a half-built entry that a later run would reuse.
set -euo pipefail

JAEGER_RELEASE=v2.13.0
JAEGER_MODULE_VERSION=v1.76.0 # same commit as the v2.13.0 tag
JAEGER_COMMIT=63b27e1810a710ac54dc4522da0538e540bdc545
OCB_VERSION=v0.162.0
# Bump when the way the binaries are built changes (flags, layout), to invalidate the cache.
RECIPE_REV=1

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

log() { printf 'e2e build: %s\n' "$*" >&2; }

if ! command -v go >/dev/null 2>&1; then
  log "Go is not installed; see e2e/run.sh for how to get it."
  exit 1
fi

GO_VERSION=$(go env GOVERSION)
PLATFORM="$(go env GOOS)-$(go env GOARCH)"
INPUTS_HASH=$(cat "$HERE/otelcol-builder.yaml" "$HERE/jaeger/go.mod" "$HERE/jaeger/go.sum" "$HERE/jaeger/tools.go" |
  sha256sum | cut -c1-12)
KEY="jaeger-${JAEGER_RELEASE}-${JAEGER_MODULE_VERSION}_ocb-${OCB_VERSION}_${GO_VERSION}_${PLATFORM}_r${RECIPE_REV}_${INPUTS_HASH}"

CACHE_ROOT=${ALM_E2E_CACHE:-$HOME/.cache/alm-otel-e2e}
ENTRY="$CACHE_ROOT/$KEY"
mkdir -p "$CACHE_ROOT"

complete_entry() { [ -x "$1/jaeger" ] && [ -x "$1/otelcol-alm-e2e" ] && [ -f "$1/BUILD-INFO" ]; }

if complete_entry "$ENTRY"; then
  log "reusing $ENTRY"
  printf '%s\n' "$ENTRY"
  exit 0
fi

# One build at a time per cache; whoever waited re-checks the cache first.
exec 9>"$CACHE_ROOT/.build.lock"
log "waiting for the build lock ($CACHE_ROOT/.build.lock)"
flock 9
if complete_entry "$ENTRY"; then
  log "reusing $ENTRY (built while waiting)"
  printf '%s\n' "$ENTRY"
  exit 0
fi

rm -rf "$CACHE_ROOT"/.tmp-* # left by an interrupted build (none can be running: we hold the lock)
TMP=$(mktemp -d "$CACHE_ROOT/.tmp-XXXXXX")
cleanup() { rm -rf "$TMP"; }
trap cleanup EXIT

START=$(date +%s)
log "cold build into $ENTRY (a few minutes on 2 cores; Go's module and build caches make later builds faster)"

log "[1/3] Jaeger ${JAEGER_RELEASE} (github.com/jaegertracing/jaeger ${JAEGER_MODULE_VERSION})"
VERSION_PKG=github.com/jaegertracing/jaeger/internal/version
(
  cd "$HERE/jaeger"
  GOFLAGS="${GOFLAGS:-} -mod=readonly" CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X ${VERSION_PKG}.latestVersion=${JAEGER_RELEASE} -X ${VERSION_PKG}.commitSHA=${JAEGER_COMMIT}" \
    -o "$TMP/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger
) >&2

log "[2/3] OpenTelemetry Collector Builder ${OCB_VERSION}"
GOBIN="$TMP/tools" go install "go.opentelemetry.io/collector/cmd/builder@${OCB_VERSION}" >&2

log "[3/3] collector from e2e/otelcol-builder.yaml"
# The manifest leaves the output path to us: add it under `dist:`.
sed "/^dist:/a\\  output_path: $TMP/otelcol-src" "$HERE/otelcol-builder.yaml" >"$TMP/otelcol-builder.yaml"
# TMPDIR: the builder makes an (unused) default output dir under it on every run.
TMPDIR="$TMP" "$TMP/tools/builder" --config "$TMP/otelcol-builder.yaml" >&2
mv "$TMP/otelcol-src/otelcol-alm-e2e" "$TMP/otelcol-alm-e2e"
cp "$TMP/otelcol-src/go.mod" "$TMP/otelcol.go.mod"
rm -rf "$TMP/otelcol-src" "$TMP/tools" "$TMP"/otelcol-distribution*

"$TMP/jaeger" version >/dev/null 2>&1 || { log "built jaeger does not run"; exit 1; }
"$TMP/otelcol-alm-e2e" --version >/dev/null || { log "built collector does not run"; exit 1; }

{
  echo "key: $KEY"
  echo "jaeger: release ${JAEGER_RELEASE}, module github.com/jaegertracing/jaeger ${JAEGER_MODULE_VERSION}, commit ${JAEGER_COMMIT}"
  echo "collector builder: go.opentelemetry.io/collector/cmd/builder ${OCB_VERSION}"
  echo "go: ${GO_VERSION} ${PLATFORM}"
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) in $(($(date +%s) - START))s"
} >"$TMP/BUILD-INFO"

rm -rf "$ENTRY" # an incomplete entry (not ours: ours are renamed in whole) would block the rename
mv -T "$TMP" "$ENTRY"
trap - EXIT
log "built in $(($(date +%s) - START))s: $ENTRY"
printf '%s\n' "$ENTRY"

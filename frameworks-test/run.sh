#!/usr/bin/env bash
# npm run test:frameworks: alm-otel against the real agent-framework packages pinned in
# frameworks-test/package.json (Vercel AI SDK 7 and 6, OpenInference LangChain, OpenLLMetry), on
# Node 24 (ai 7 needs Node >= 22) taken from the npm registry's `node` package when the local Node is
# older. alm-otel is installed from its `npm pack` tarball, as users get it. Downloads are cached
# outside git: npm's cache (~/.npm) for the packages and the Node binary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
NODE_VERSION=24.21.0

cd "$root"
if [ ! -d node_modules ]; then npm ci --no-audit --no-fund; fi
npm run build --silent
pack_dir="$(mktemp -d)"
trap 'rm -rf "$pack_dir"' EXIT
tarball="$pack_dir/$(npm pack --silent --pack-destination "$pack_dir" | tail -n 1)"

cd "$here"
npm ci --no-audit --no-fund --loglevel=error
npm install --no-save --no-audit --no-fund --loglevel=error "$tarball"

if [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 22 ]; then
  node_bin=(node)
else
  node_bin=(npx --yes "node@$NODE_VERSION")
fi
echo "Node $("${node_bin[@]}" --version), alm-otel from $(basename "$tarball")"

tap="$pack_dir/results.tap"
status=0
"${node_bin[@]}" --test --test-concurrency=1 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap" \
  ./*.test.mjs || status=$?

passed=$(grep -E '^# pass ' "$tap" | awk '{print $3}')
failed=$(grep -E '^# fail ' "$tap" | awk '{print $3}')
if [ "${failed:-0}" != 0 ]; then
  echo "Failing cases:"
  grep -E '^\s*not ok ' "$tap" | sed -E 's/^\s*not ok [0-9]+ - /  /'
fi
echo "${passed:-0} passed, ${failed:-0} failed"
if [ "$status" -ne 0 ] && [ "${failed:-0}" = 0 ]; then echo "test runner failed (exit $status)"; fi

# The docs' code blocks, now with the frameworks' packages installed: `npm test` skips the blocks that
# import one (docs/frameworks/*.md); here they are type-checked, and run unless marked no-run.
cd "$root"
if ! npx jest test/docs.test.ts; then
  echo "docs code blocks: failed (npx jest test/docs.test.ts)"
  status=1
fi
exit "$status"

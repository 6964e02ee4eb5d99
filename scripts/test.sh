#!/usr/bin/env bash
# The whole test suite against the real Redis and PostgreSQL (each run gets its own database and
# Redis key prefix). `npm test` and `pnpm test` both land here.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/ensure.sh
ensure_built
ensure_services
ensure_prometheus
echo "==> testing"
pnpm exec vitest run "$@"
# The full run repeats the FCFS, CODE and DIRECT batch tests on a three-master Redis Cluster that
# vitest.cluster.config.ts starts from the installed redis-server (a run of chosen files skips it).
if [ $# -eq 0 ]; then
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    echo "✗ the Redis Cluster run needs redis-server and redis-cli (Debian: apt-get install redis-server)" >&2
    exit 1
  fi
  echo "==> testing on a Redis Cluster"
  pnpm exec vitest run --config vitest.cluster.config.ts
fi

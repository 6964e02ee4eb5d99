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
exec pnpm exec vitest run "$@"

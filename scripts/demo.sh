#!/usr/bin/env bash
# One command from a fresh clone to a flash sale: install, build, prepare the database, start a
# gateway and a worker, run 20,000 simulated users at 1,000 coupons, report, stop everything.
# Override with env: DEMO_USERS, DEMO_COUPONS, DEMO_CONNECTIONS, PORT, WORKER_METRICS_PORT,
# REDIS_URL, REDIS_CLUSTER_NODES, DATABASE_URL, JWT_SECRET.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/ensure.sh

export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
export DATABASE_URL="${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/coupon}"
export JWT_SECRET="${JWT_SECRET:-demo-only-secret-$(node -e 'console.log(require("crypto").randomBytes(24).toString("hex"))')}"
export LOG_LEVEL="${LOG_LEVEL:-warn}"
export PORT="${PORT:-3000}"
export WORKER_METRICS_PORT="${WORKER_METRICS_PORT:-9464}"

ensure_services
ensure_built
echo "==> preparing the database"
pnpm -s db:migrate

for port in "$PORT" "$WORKER_METRICS_PORT"; do
  if node -e "require('net').connect($port,'127.0.0.1').on('connect',()=>process.exit(0)).on('error',()=>process.exit(1))"; then
    echo "✗ port $port is taken; free it or set PORT / WORKER_METRICS_PORT" >&2
    exit 1
  fi
done

mkdir -p .demo
pids=()
stop() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop EXIT

echo "==> starting gateway (:$PORT) and worker (metrics :$WORKER_METRICS_PORT); logs in .demo/"
node apps/gateway/dist/server.js >.demo/gateway.log 2>&1 & pids+=($!)
node apps/worker/dist/main.js >.demo/worker.log 2>&1 & pids+=($!)

node scripts/demo/flash-sale.mjs \
  --url "http://127.0.0.1:$PORT" \
  --users "${DEMO_USERS:-20000}" \
  --coupons "${DEMO_COUPONS:-1000}" \
  --connections "${DEMO_CONNECTIONS:-128}"

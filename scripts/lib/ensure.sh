# Shared by the root commands: make sure pnpm and the dependencies are there and the code is built.
# Sourced, not run.

ensure_pnpm() {
  if ! command -v pnpm >/dev/null 2>&1; then
    echo "==> installing pnpm 10 (npm i -g pnpm@10)"
    npm i -g pnpm@10 >/dev/null
  fi
}

ensure_built() {
  export TURBO_TELEMETRY_DISABLED=1
  ensure_pnpm
  echo "==> installing dependencies"
  pnpm install --frozen-lockfile --reporter=silent
  echo "==> building"
  pnpm -s build --output-logs=errors-only
}

ensure_services() {
  node scripts/preflight.mjs
}

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

# promtool and prometheus, which the observability tests run (Debian's prometheus package). Only
# the binaries are wanted: policy-rc.d keeps the package from starting its service, and a server
# the install started anyway (on 9090) is stopped by its pid.
ensure_prometheus() {
  if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
    return 0
  fi
  if [ "$(id -u)" != "0" ]; then
    echo "==> promtool/prometheus missing and not root: install Debian's prometheus package" >&2
    return 0
  fi
  echo "==> installing prometheus (apt-get install prometheus)"
  local before policy_added=""
  before="$(pgrep -x prometheus || true)"
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    policy_added=1
  fi
  local install=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus)
  if ! "${install[@]}" >/dev/null; then
    apt-get update -q >/dev/null
    "${install[@]}" >/dev/null || echo "==> could not install prometheus" >&2
  fi
  if [ -n "$policy_added" ]; then rm -f /usr/sbin/policy-rc.d; fi
  local pid
  for pid in $(pgrep -x prometheus || true); do
    if ! grep -qx "$pid" <<<"$before"; then
      echo "==> stopping the prometheus process the package started (pid $pid)"
      kill "$pid" 2>/dev/null || true
    fi
  done
  return 0
}

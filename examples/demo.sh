#!/usr/bin/env bash
# Quick start on a fresh machine: installs what regmgr needs, builds it, and runs a real
# demo against two local registries (plan, then apply). Nothing listens beyond 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /usr/bin/docker-registry ] || need+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || need+=(skopeo)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# Not for the demo: `npm test` runs the PostgreSQL state backend's tests against a real server.
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql-15)
if [ "${#need[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "Installing ${need[*]} with apt-get ..."
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build --silent
node dist/examples/demo.js "$@"

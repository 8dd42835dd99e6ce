#!/usr/bin/env bash
# The Dockerfile test installs the packed package with npm offline (a test reaches no
# registry). `npm ci` caches only tarballs; a global install of a .tgz also needs each
# dependency's registry metadata. One online install of the same pack, into a prefix
# thrown away afterwards, caches both. Run after `npm ci` (which builds).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
npm pack --ignore-scripts --silent --pack-destination "$tmp" >/dev/null
npm install --global --prefix "$tmp/prefix" --omit=dev --ignore-scripts --no-audit --no-fund --silent "$tmp"/regmgr-*.tgz

#!/usr/bin/env bash
# Part of `npm test`: the tests that install regmgr (the Dockerfile's commands, the CI
# examples' git URL install) run npm offline, since a test reaches no registry. `npm ci`
# caches only tarballs; installing the package globally or from git also needs each
# dependency's registry metadata. One install of the packed package into a prefix thrown
# away afterwards caches both. --prefer-offline: with a warm cache it asks no registry
# (about 2 s); on an empty cache (a fresh machine, npm_config_cache pointed at an empty
# folder) it fetches what is missing, once.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
npm pack --ignore-scripts --silent --pack-destination "$tmp" >/dev/null
npm install --global --prefix "$tmp/prefix" --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund --silent "$tmp"/regmgr-*.tgz
# The Dockerfile's `npm ci` (run offline by its test) reads each dependency's abbreviated
# metadata: an `npm ci` of the lock file in a scratch copy caches it (once per new dependency).
cp package.json package-lock.json "$tmp"/
(cd "$tmp" && npm ci --ignore-scripts --prefer-offline --no-audit --no-fund --silent)

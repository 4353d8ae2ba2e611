#!/usr/bin/env bash
# Builds the operator console (console/: Vue 3 + Element Plus, Vite) into the package,
# src/citybrain/web/console/, which the platform serves under /console and the wheel ships (git
# ignores it). `npm ci` runs only when console/node_modules is missing or older than the lock file;
# `vite build` only when a source file is newer than the built page.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../console"
out=../src/citybrain/web/console/index.html
stamp=node_modules/.package-lock.json  # npm writes this on every install
need_npm() {
  if ! command -v npm >/dev/null 2>&1; then
    echo "npm is needed to build the operator console (Node.js 20.19+): install Node.js, then run 'make deps'" >&2
    exit 1
  fi
}
if ! { [ -f "$stamp" ] && [ "$stamp" -nt package-lock.json ]; }; then
  need_npm
  echo "installing the console's npm packages (npm ci in console/)"
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi
# a source newer than the built page (or no page yet) means a build
if [ ! -f "$out" ] || [ -n "$(find index.html vite.config.js package-lock.json src -newer "$out" -print -quit)" ]; then
  need_npm
  echo "building the operator console (vite build in console/)"
  npx --no-install vite build --logLevel warn
  touch "$out"
fi

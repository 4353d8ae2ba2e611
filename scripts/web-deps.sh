#!/usr/bin/env bash
# Installs the dashboard's npm packages (web/package-lock.json) with `npm ci`, only when
# web/node_modules is missing or older than the lock file. Nothing from npm is committed; the
# platform serves the few files it needs from web/node_modules under /vendor/.
set -euo pipefail
cd "$(dirname "$0")/../web"
stamp=node_modules/.package-lock.json  # npm writes this on every install
if [ -f "$stamp" ] && [ "$stamp" -nt package-lock.json ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "npm is needed for the dashboard's packages (Node.js 20+)" >&2
  exit 1
fi
echo "installing the dashboard's npm packages (npm ci in web/)"
npm ci --no-audit --no-fund --loglevel=error
touch "$stamp"

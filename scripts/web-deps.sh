#!/usr/bin/env bash
# Installs the dashboard's npm packages (web/package-lock.json) with `npm ci`, only when
# web/node_modules is missing or older than the lock file, then copies the few files the dashboard
# serves (and their licences) into the package, src/citybrain/web/vendor/ (scripts/web_vendor.py),
# so the wheel ships them. Nothing from npm is committed: git ignores that folder.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../web"
stamp=node_modules/.package-lock.json  # npm writes this on every install
if ! { [ -f "$stamp" ] && [ "$stamp" -nt package-lock.json ]; }; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "npm is needed for the dashboard's packages (Node.js 20+)" >&2
    exit 1
  fi
  echo "installing the dashboard's npm packages (npm ci in web/)"
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi
"${PY:-python3}" "$here/web_vendor.py"

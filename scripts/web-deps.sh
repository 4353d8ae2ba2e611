#!/usr/bin/env bash
# Installs the dashboard's npm packages (web/package-lock.json) with `npm ci`, only when
# web/node_modules is missing or older than the lock file, then copies the few files the dashboard
# serves (and their licences) into the package, src/citybrain/web/vendor/ (scripts/web_vendor.py),
# so the wheel ships them. Nothing from npm is committed: git ignores that folder.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/npm-ci.sh"
npm_ci_when_stale "$here/../web" "the dashboard's npm packages"
"${PY:-python3}" "$here/web_vendor.py"

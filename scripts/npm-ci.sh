#!/usr/bin/env bash
# `npm ci` in the folder $1 (for $2, named in messages), only when its node_modules is missing or
# older than its package-lock.json. Sourced by the scripts that install the project's npm packages.
npm_ci_when_stale() {
  local dir="$1" what="$2"
  local stamp="$dir/node_modules/.package-lock.json"  # npm writes this on every install
  if ! { [ -f "$stamp" ] && [ "$stamp" -nt "$dir/package-lock.json" ]; }; then
    if ! command -v npm >/dev/null 2>&1; then
      echo "npm is needed for $what (Node.js 20+)" >&2
      exit 1
    fi
    echo "installing $what (npm ci in $(basename "$dir")/)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    touch "$stamp"
  fi
}

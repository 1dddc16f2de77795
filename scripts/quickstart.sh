#!/usr/bin/env bash
# The README's main job: set up (idempotent), build, then `jess quickstart` on built-in defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
exec "${BUILD_DIR:-build}/jess" quickstart "$@"

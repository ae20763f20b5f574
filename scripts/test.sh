#!/usr/bin/env bash
# Every test: installs and builds (scripts/setup.sh), then runs the whole ctest suite
# (test-model generation, GoogleTest units, the lit suite).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ctest --test-dir build --output-on-failure -j"${LRC_JOBS:-2}" "$@"

#!/usr/bin/env bash
# Every test: installs and builds (scripts/setup.sh), then runs the whole ctest suite
# (test-model generation, GoogleTest units, the lit suite, the PyTorch parity tests), then the
# sanitizer build's suite (build-san/: ASan + UBSan over the units, lit and a sample of the
# parity tests, and a bounded run of each libFuzzer target; docs/testing.md).
#   scripts/test.sh [--no-sanitize | --sanitize-only] [CTEST ARGS...]
# --no-sanitize: the main build's suite only (quicker, while developing).
# --sanitize-only: the sanitizer build's suite only (label `sanitize`).
# Extra arguments go to ctest in each build, e.g. `scripts/test.sh --no-sanitize -R lit`.
set -euo pipefail
cd "$(dirname "$0")/.."
main=1 sanitize=1
case ${1:-} in
  --no-sanitize) sanitize=0; shift ;;
  --sanitize-only) main=0; shift ;;
esac
if ((sanitize)); then scripts/setup.sh --sanitize; else scripts/setup.sh; fi
jobs=${LRC_JOBS:-2}
if ((main)); then
  ctest --test-dir build --output-on-failure -j"$jobs" "$@"
fi
if ((sanitize)); then
  # Every sanitizer report fails its test: ASan's (leaks at exit included) and UBSan's.
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:abort_on_error=1} \
    ctest --test-dir build-san --output-on-failure -j"$jobs" -L "unit|sanitize" "$@"
fi

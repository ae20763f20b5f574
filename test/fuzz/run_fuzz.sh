#!/usr/bin/env bash
# One bounded libFuzzer run: TARGET from its seed corpus SEEDS for SECONDS, new inputs kept in
# WORK/corpus (made afresh), a finding written to WORK/ (crash-*, timeout-*, oom-*) and the
# run failing. Fixed seed, so that a CI run is repeatable as far as timing allows.
# usage: run_fuzz.sh TARGET SEEDS SECONDS WORK
set -euo pipefail
target=$1 seeds=$2 seconds=$3 work=$4
rm -rf "$work"
mkdir -p "$work"/corpus
# Leak checking stays on (libFuzzer's default); a hang is an input over 30 s (instrumented: a
# 4 KiB model that folds 16 million values takes 19 s here, 1.6 s in the release build).
exec "$target" -seed=1 -max_total_time="$seconds" -timeout=30 -rss_limit_mb=3072 -print_final_stats=1 \
  -artifact_prefix="$work"/ "$work"/corpus "$seeds"

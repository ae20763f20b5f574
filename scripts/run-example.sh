#!/usr/bin/env bash
# The main job: builds lrc and compiles the bundled example CNN, printing its IR.
# (Training it on Fashion-MNIST comes with the CPU backend.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build/tools/lrc-compile examples/fashion_cnn.onnx --emit ir

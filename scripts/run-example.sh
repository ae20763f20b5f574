#!/usr/bin/env bash
# The main job: builds lrc, compiles the bundled example CNN (examples/fashion_cnn.onnx) into
# a training plan, and trains it for one epoch on Fashion-MNIST from the Debian package
# dataset-fashion-mnist, on the CPU, printing validation accuracy and the measured peak
# memory next to the predicted one. Extra arguments go to lrc-run (e.g. --epochs 3).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
data=idx:/usr/share/datasets/fashion-mnist
mkdir -p build/example
build/tools/lrc-compile examples/fashion_cnn.onnx --batch 64 --lr 0.05 -o build/example/fashion_cnn.plan
build/tools/lrc-run build/example/fashion_cnn.plan --data "$data" --val "$data" --epochs 1 \
  --metrics build/example/metrics.jsonl --save-onnx build/example/fashion_cnn_trained.onnx "$@"

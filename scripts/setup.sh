#!/usr/bin/env bash
# Installs the Debian packages lrc needs (only those missing; silent when all are present)
# and builds everything into build/. Safe to run again: it only does what is left to do.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  cmake g++ make python3
  libonnx-dev libprotobuf-dev protobuf-compiler  # ONNX protobuf classes and checker
  libopenblas-dev                                # BLAS for the CPU backend
  zlib1g-dev libpng-dev libjpeg-dev              # plan checksums, gzip IDX files, image folders
  libgtest-dev googletest                        # unit tests
  llvm-14-tools                                  # lit sources, FileCheck, not
  python3-torch python3-torchvision python3-onnx python3-numpy  # reference models
  libonnx-testdata                               # ONNX backend node tests
  dataset-fashion-mnist                          # the main job's data
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

mkdir -p build
log=build/setup.log
if ! { cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DLRC_WERROR=ON &&
       cmake --build build -j"${LRC_JOBS:-2}"; } >"$log" 2>&1; then
  grep -E "error|Error|warning" "$log" | head -40 >&2 || true
  echo "setup: build failed; full log in $log" >&2
  exit 1
fi

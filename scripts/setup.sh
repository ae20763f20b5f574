#!/usr/bin/env bash
# Installs the Debian packages lrc needs (only those missing; silent when all are present)
# and builds everything into build/. Safe to run again: it only does what is left to do.
# --sanitize: also builds the sanitizer configuration into build-san/ (clang, ASan + UBSan,
# the libFuzzer targets; docs/testing.md).
set -euo pipefail
cd "$(dirname "$0")/.."
sanitize=0
for arg in "$@"; do
  case $arg in
    --sanitize) sanitize=1 ;;
    *) echo "setup: unknown argument '$arg' (expected --sanitize)" >&2; exit 2 ;;
  esac
done

PACKAGES=(
  cmake g++ make python3
  libonnx-dev libprotobuf-dev protobuf-compiler  # ONNX protobuf classes and checker
  libopenblas-dev                                # BLAS for the CPU backend
  libdnnl-dev                                    # oneDNN: the CPU backend's convolutions
  ocl-icd-opencl-dev                             # oneDNN's CMake config requires OpenCL (a Recommends)
  zlib1g-dev libpng-dev libjpeg-dev              # plan checksums, gzip IDX files, image folders
  libgtest-dev googletest                        # unit tests
  llvm-14-tools                                  # lit sources, FileCheck, not
  clang libclang-rt-14-dev                       # the sanitizer build and libFuzzer (--sanitize)
  python3-torch python3-torchvision python3-onnx python3-numpy  # reference models
  libonnx-testdata                               # ONNX backend node tests
  dataset-fashion-mnist                          # the main job's data
  libopenmpi-dev openmpi-bin                     # data parallel: mpirun, MPI for lrc-run's ranks
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

# build DIR CMAKE-ARGS...: configures and builds DIR, the log in DIR/setup.log.
build() {
  local dir=$1
  shift
  mkdir -p "$dir"
  local log=$dir/setup.log
  if ! { cmake -S . -B "$dir" "$@" && cmake --build "$dir" -j"${LRC_JOBS:-2}"; } >"$log" 2>&1; then
    grep -E "error|Error|warning" "$log" | head -40 >&2 || true
    echo "setup: build failed; full log in $log" >&2
    exit 1
  fi
}

build build -DCMAKE_BUILD_TYPE=Release -DLRC_WERROR=ON
if ((sanitize)); then
  # The sanitizer build reads the test models the main build makes (build/test-models).
  # -O1 with line tables: readable reports, asserts on, and a quicker build than -O2 -g.
  CC=clang CXX=clang++ build build-san -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLRC_WERROR=ON -DLRC_SANITIZE=ON \
    "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only" "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only" \
    -DLRC_TEST_MODELS_DIR="$PWD/build/test-models"
fi

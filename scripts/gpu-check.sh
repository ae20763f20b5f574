#!/usr/bin/env bash
# The CUDA suite and the GPU benchmark on a machine with an NVIDIA GPU that has none of the
# Debian packages lrc builds against (protobuf, onnx, OpenBLAS, gtest), in two halves:
#
#   scripts/gpu-check.sh --bundle [--build DIR]   # here: build with the CUDA backend, fill gpu-bundle/
#   scripts/gpu-check.sh --run OUT_DIR            # there: run what gpu-bundle/ holds, logs + table in OUT_DIR
#
# --bundle builds lrc-compile, lrc-run and the backend conformance test in DIR (default
# build/; configured with LRC_ENABLE_CUDA=ON if new, refused if configured without it) and
# copies them, stripped, into gpu-bundle/ (git-ignored) with the shared libraries they load
# (their ldd closure) less glibc's, the NVIDIA driver's and cuBLAS's (libcublas/libcublasLt:
# 600 MB; the GPU machine's CUDA 13 has them). gpu-bundle/bin/ holds one wrapper per binary
# that sets LD_LIBRARY_PATH for that binary alone (Python's torch must not see Debian 12's
# older libstdc++). Kept under 60 MiB: the device tool carries at most 64 MiB.
#
# --run (on the GPU machine, from the repository root with gpu-bundle/ carried along):
#   1. the GPU (nvidia-smi); without one it says so and exits 2, running nothing;
#   2. backend_conformance_test (GoogleTest) on the GPU, then compute-sanitizer's memcheck
#      over two training steps of two small plans;
#   3. every entry of test/e2e/cuda_parity.txt: test/e2e/parity.py --device cuda; then the
#      cost model's constants for this GPU (bench/calibrate.py --device cuda, at most 180 s),
#      and the GPU against the CPU on a whole ResNet-50 (test/e2e/backends.py);
#      then data parallel on the GPU (NCCL alone, 2 ranks on one GPU) when mpirun is there;
#   4. bench/gpu_step.py (VGG-16 and ResNet-50, 224x224, batch 32, lrc plans vs PyTorch;
#      3 timed steps after 1 warm-up).
# Logs (conformance.log, memcheck.log, parity.log, calibration.md, backends.log, bench.log, bench.json) and summary.md go to OUT_DIR.
# Exit status 0 only when every check passed; a skip on a machine with a GPU is a failure.
# Python: $LRC_PYTHON, else python3 from PATH (it needs torch with CUDA, torchvision, onnx).
# The benchmark gets what is left of $LRC_GPU_CHECK_SECONDS (default 450) after the tests;
# $LRC_BENCH_ARGS adds bench/gpu_step.py flags, last (e.g. "--models resnet50 --steps 5").
# gpu-bundle/ is git-ignored: copy it along with the working tree to the GPU machine.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUNDLE="${LRC_GPU_BUNDLE:-$ROOT/gpu-bundle}"
MAX_BUNDLE_MIB=60
BINARIES=(tools/lrc-compile tools/lrc-run test/unit/backend_conformance_test)

die() { echo "gpu-check: $*" >&2; exit 1; }

usage() {
  sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

# ---------------------------------------------------------------------------------------
bundle() {
  local build="$ROOT/build"
  while (($#)); do
    case "$1" in
      --build) build="$(cd "$2" 2>/dev/null && pwd)" || die "--build $2: no such folder"; shift 2 ;;
      *) usage ;;
    esac
  done
  if [[ ! -f "$build/CMakeCache.txt" ]]; then
    cmake -S "$ROOT" -B "$build" -DLRC_ENABLE_CUDA=ON -DLRC_WERROR=ON >/dev/null || die "configuring $build failed"
  fi
  grep -q '^LRC_ENABLE_CUDA:BOOL=ON' "$build/CMakeCache.txt" ||
    die "$build is configured without the CUDA backend: cmake -S . -B $build -DLRC_ENABLE_CUDA=ON (needs nvcc)"
  # The conformance test may not exist in this tree yet: then the bundle goes without it and
  # --run reports it as a failure.
  local targets=() available=() known
  known="$(cmake --build "$build" --target help 2>/dev/null)"
  for b in "${BINARIES[@]}"; do
    if grep -qw -- "$(basename "$b")" <<<"$known"; then
      targets+=(--target "$(basename "$b")")
      available+=("$b")
    else
      echo "gpu-check: warning: $build has no target $(basename "$b"): the bundle goes without it" >&2
    fi
  done
  echo "gpu-check: building ${available[*]##*/} in $build"
  cmake --build "$build" -j"${LRC_JOBS:-2}" "${targets[@]}" >"$build/gpu-bundle-build.log" 2>&1 ||
    { tail -30 "$build/gpu-bundle-build.log" >&2; die "build failed (log: $build/gpu-bundle-build.log)"; }

  rm -rf "$BUNDLE"
  mkdir -p "$BUNDLE/bin" "$BUNDLE/libexec" "$BUNDLE/lib"
  local libs=()
  for b in "${available[@]}"; do
    local src="$build/$b" name
    name="$(basename "$b")"
    [[ -x "$src" ]] || die "$src was not built"
    cp "$src" "$BUNDLE/libexec/$name"
    strip --strip-unneeded "$BUNDLE/libexec/$name"
    # The wrapper: this binary's libraries first, then the machine's CUDA libraries (found
    # by --run, $LRC_BUNDLE_CUDA_LIBS), then whatever the caller had.
    cat >"$BUNDLE/bin/$name" <<EOF
#!/bin/sh
here="\$(cd "\$(dirname "\$0")/.." && pwd)"
LD_LIBRARY_PATH="\$here/lib\${LRC_BUNDLE_CUDA_LIBS:+:\$LRC_BUNDLE_CUDA_LIBS}\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "\$here/libexec/$name" "\$@"
EOF
    chmod +x "$BUNDLE/bin/$name"
    local missing
    missing="$(ldd "$src" | grep 'not found')" && die "$src: libraries not found here: $missing"
    while read -r lib; do libs+=("$lib"); done < <(ldd "$src" | awk '$2 == "=>" && $3 ~ /^\// {print $3}')
  done
  local copied=() left=()
  for lib in $(printf '%s\n' "${libs[@]}" | sort -u); do
    case "$(basename "$lib")" in
      # glibc (the GPU machine's is newer: Ubuntu 24.04's 2.39 vs 2.36 here), the driver,
      # and cuBLAS (the GPU machine's CUDA toolkit has it; 600 MB).
      ld-linux*|libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|libutil.so*|libresolv.so*|\
      libcuda.so*|libnvidia-*|libcublas.so*|libcublasLt.so*|libcudart.so*)
        left+=("$(basename "$lib")") ;;
      *) cp -L "$lib" "$BUNDLE/lib/" && copied+=("$(basename "$lib")") ;;
    esac
  done
  {
    echo "lrc GPU bundle, made by scripts/gpu-check.sh --bundle on $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "commit: $(git -C "$ROOT" rev-parse HEAD)$(git -C "$ROOT" diff --quiet HEAD -- . ':!gpu-bundle' || echo ' + uncommitted changes')"
    echo "build: $build; $(/usr/local/cuda/bin/nvcc --version 2>/dev/null | grep -o 'release [0-9.]*' || echo 'nvcc ?')"
    echo "binaries: ${available[*]##*/}"
    echo "bundled: ${copied[*]}"
    echo "from the GPU machine: ${left[*]}"
  } >"$BUNDLE/MANIFEST"
  local bytes mib
  bytes=$(du -sb "$BUNDLE" | cut -f1)
  mib=$((bytes / 1048576))
  ((mib <= MAX_BUNDLE_MIB)) || die "$BUNDLE is $mib MiB, over $MAX_BUNDLE_MIB MiB (the device tool carries 64 MiB)"
  echo "gpu-check: $BUNDLE: $mib MiB ($bytes bytes): ${available[*]##*/} + ${#copied[@]} libraries"
  echo "gpu-check: on the GPU machine: scripts/gpu-check.sh --run OUT_DIR (carry gpu-bundle)"
}

# ---------------------------------------------------------------------------------------
# run: results as "name|status|seconds|note" lines in $RESULTS.
record() { printf '%s|%s|%s|%s\n' "$1" "$2" "$3" "$4" >>"$RESULTS"; echo "gpu-check: $1: $2 ($3 s) $4"; }

cuda_lib_dirs() {
  # Folders holding libcublas.so.13 and libcublasLt.so.13 on this machine: $LRC_CUDA_LIBS,
  # the CUDA toolkit's, then the Python packages' (nvidia-cublas).
  local dirs=() d
  for d in ${LRC_CUDA_LIBS:-} /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-13*/lib64; do
    [[ -e "$d/libcublas.so.13" ]] && dirs+=("$d")
  done
  if ((${#dirs[@]} == 0)); then
    while read -r f; do dirs+=("$(dirname "$f")"); done < <(
      "$PYTHON" -c 'import site, sys; print("\n".join(site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null |
        while read -r sp; do find "$sp/nvidia" -name 'libcublas.so.13' 2>/dev/null; done | head -3)
  fi
  local IFS=:
  echo "${dirs[*]}"
}

run_all() {
  (($# == 1)) || usage
  local out="$1"
  mkdir -p "$out" || die "cannot make $out"
  out="$(cd "$out" && pwd)"
  RESULTS="$out/.results"
  : >"$RESULTS"
  local summary="$out/summary.md" start=$SECONDS budget="${LRC_GPU_CHECK_SECONDS:-450}"
  PYTHON="${LRC_PYTHON:-python3}"
  export PYTHONUNBUFFERED=1

  # 1. The GPU.
  local gpu
  if ! command -v nvidia-smi >/dev/null; then
    gpu=""
    echo "gpu-check: no NVIDIA GPU found: nvidia-smi is not installed" | tee "$summary"
  else
    gpu="$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1)" || gpu=""
    [[ -n "$gpu" ]] || echo "gpu-check: no NVIDIA GPU found: nvidia-smi lists none ($(nvidia-smi -L 2>&1 | head -1))" | tee "$summary"
  fi
  if [[ -z "$gpu" ]]; then
    echo "gpu-check: nothing was run (the CUDA suite and the GPU benchmark need a GPU)" | tee -a "$summary"
    rm -f "$RESULTS"
    exit 2
  fi
  echo "gpu-check: GPU: $gpu"
  [[ -x "$BUNDLE/bin/lrc-run" ]] || die "no bundle at $BUNDLE: make it with scripts/gpu-check.sh --bundle where lrc builds, and carry it"
  export LRC_BUNDLE_CUDA_LIBS
  LRC_BUNDLE_CUDA_LIBS="$(cuda_lib_dirs)"
  local torch_version
  torch_version="$("$PYTHON" -c 'import torch, torchvision, onnx; assert torch.cuda.is_available(), "torch sees no GPU"; print(torch.__version__)' 2>&1 | tail -1)" ||
    torch_version="UNUSABLE: $torch_version"
  echo "gpu-check: $PYTHON: torch $torch_version; cuBLAS from: ${LRC_BUNDLE_CUDA_LIBS:-(not found)}"
  [[ "$torch_version" == UNUSABLE* ]] && record python FAIL 0 "$PYTHON: $torch_version (set LRC_PYTHON)"
  local unresolved
  unresolved="$(LD_LIBRARY_PATH="$BUNDLE/lib${LRC_BUNDLE_CUDA_LIBS:+:$LRC_BUNDLE_CUDA_LIBS}" ldd "$BUNDLE/libexec/lrc-run" | grep 'not found')"
  [[ -z "$unresolved" ]] || record "libraries" FAIL 0 "lrc-run cannot load: $(echo "$unresolved" | awk '{print $1}' | tr '\n' ' ')(set LRC_CUDA_LIBS)"

  WORK="$(mktemp -d /tmp/lrc-gpu-check.XXXXXX)"
  trap 'rm -rf "$WORK"' EXIT
  local work="$WORK"

  # 2. The backend conformance test.
  local t=$SECONDS rc note
  if [[ -x "$BUNDLE/bin/backend_conformance_test" ]]; then
    timeout 300 "$BUNDLE/bin/backend_conformance_test" --gtest_color=no >"$out/conformance.log" 2>&1
    rc=$?
    local passed skipped failed
    passed="$(grep -o '\[  PASSED  \] [0-9]*' "$out/conformance.log" | grep -o '[0-9]*$')"
    skipped="$(grep -o '\[  SKIPPED \] [0-9]* test' "$out/conformance.log" | grep -o '[0-9]*' | head -1)"
    failed="$(grep -o '\[  FAILED  \] [0-9]* test' "$out/conformance.log" | grep -o '[0-9]*' | head -1)"
    note="${passed:-0} passed, ${skipped:-0} skipped, ${failed:-0} failed"
    if ((rc == 124)); then
      record conformance FAIL $((SECONDS - t)) "timed out after 300 s; $note"
    elif ((rc != 0)); then
      record conformance FAIL $((SECONDS - t)) "exit status $rc; $note"
    elif [[ -n "$skipped" && "$skipped" != 0 ]]; then
      record conformance FAIL $((SECONDS - t)) "$note: a skip with a GPU present is a failure"
    else
      record conformance PASS $((SECONDS - t)) "$note"
    fi
  else
    record conformance FAIL 0 "backend_conformance_test is not in the bundle"
  fi

  # 2b. compute-sanitizer's memcheck over two training steps of the example CNN as a 2PS row
  # plan (bands, strips, frozen BatchNorm), an OverL plan with per-strip BatchNorm, and
  # layerwise: an out-of-bounds or misaligned access in any kernel is a failure, even one
  # whose numbers happen to come out right.
  local sanitizer
  sanitizer="$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)"
  t=$SECONDS
  if [[ -z "$sanitizer" ]]; then
    record memcheck FAIL 0 "compute-sanitizer not found"
  else
    : >"$out/memcheck.log"
    rc=0
    for plan in "2ps --strips 3 --bp-strips 2 --bn frozen" "overl --strips 2 --bn strip" "layerwise"; do
      read -ra words <<<"$plan"
      "$BUNDLE/bin/lrc-compile" "$ROOT/examples/fashion_cnn.onnx" --batch 4 --strategy "${words[@]}" \
        -o "$work/memcheck.plan" >>"$out/memcheck.log" 2>&1 || rc=1
      timeout 240 "$sanitizer" --tool memcheck --error-exitcode 3 --target-processes all \
        "$BUNDLE/bin/lrc-run" "$work/memcheck.plan" --data synthetic --steps 2 --device cuda >>"$out/memcheck.log" 2>&1 || rc=$?
    done
    rm -f "$work/memcheck.plan"
    if ((rc == 0)); then
      record memcheck PASS $((SECONDS - t)) "3 plans, 2 steps each"
    else
      record memcheck FAIL $((SECONDS - t)) "exit status $rc: $(grep -m1 -e '=========.*Invalid' -e 'error' "$out/memcheck.log" | cut -c1-140)"
    fi
  fi

  # 3. PyTorch parity on the GPU.
  : >"$out/parity.log"
  local name rest words
  while read -r name rest; do
    [[ -z "$name" || "$name" == \#* ]] && continue
    read -ra words <<<"$rest"
    t=$SECONDS
    timeout 300 "$PYTHON" "$ROOT/test/e2e/parity.py" --bin "$BUNDLE/bin" --work "$work/$name" --device cuda "${words[@]}" \
      >"$work/$name.log" 2>&1
    rc=$?
    {
      echo "=== parity_${name}_cuda: parity.py --device cuda ${words[*]}"
      grep -v -e 'Warning' -e '_C._jit_pass_onnx' "$work/$name.log"
      echo "=== exit status $rc"
    } >>"$out/parity.log"
    case "$rc" in
      0) record "parity_${name}_cuda" PASS $((SECONDS - t)) "" ;;
      77) record "parity_${name}_cuda" FAIL $((SECONDS - t)) "skipped (no usable GPU) on a machine with a GPU" ;;
      124) record "parity_${name}_cuda" FAIL $((SECONDS - t)) "timed out after 300 s" ;;
      *) note="$(grep -m1 'error: ' "$work/$name.log" ||
                 awk '/^MISMATCH:/ {getline; print; exit} /^FAILED:/ {print; exit}' "$work/$name.log")"
         record "parity_${name}_cuda" FAIL $((SECONDS - t)) "$(echo "${note:-$(tail -1 "$work/$name.log")}" | cut -c1-160)" ;;
    esac
    rm -rf "${work:?}/$name" "$work/$name.log"
  done <"$ROOT/test/e2e/cuda_parity.txt"

  # 3b. The cost model's constants for this GPU (bench/calibrate.py --device cuda: each
  # kernel call of a few VGG-16 and ResNet-50 plans timed whole; the models exported here by
  # bench/gpu_step.py --export-only), at most 180 s; the C++
  # lines for compiler/CostModel.cpp are in calibration.md. Not finishing in time is reported
  # as INCOMPLETE, not as a failure: it measures, it checks nothing.
  t=$SECONDS
  timeout 180 bash -c '"$1" "$2/bench/gpu_step.py" --export-only "$3/models" --python "$1" >&2 &&
    exec "$1" "$2/bench/calibrate.py" --device cuda --bin "$4" --models-dir "$3/models" --batch 32 --steps 3 \
      --save "$3/calibration"' _ "$PYTHON" "$ROOT" "$work" "$BUNDLE/bin" >"$out/calibration.md" 2>"$out/calibration.log"
  rc=$?
  case "$rc" in
    0) record calibrate PASS $((SECONDS - t)) "calibration.md" ;;
    124) record calibrate INCOMPLETE $((SECONDS - t)) "not finished in 180 s (calibration.log)" ;;
    *) record calibrate FAIL $((SECONDS - t)) "exit status $rc (calibration.log)" ;;
  esac
  rm -rf "${work:?}/calibration"

  # 3c. The GPU against the CPU on a whole ResNet-50 (test/e2e/backends.py: 64x64, batch 2,
  # layerwise, frozen BatchNorm, 3 steps), with the model the calibration exported.
  t=$SECONDS
  if [[ -f "$work/models/resnet50_train_op13.onnx" ]]; then
    timeout 180 "$PYTHON" "$ROOT/test/e2e/backends.py" --bin "$BUNDLE/bin" --work "$work/backends" --device cuda \
      --input-shape 3,64,64 --batch 2 "$work/models/resnet50_train_op13.onnx" -- --strategy layerwise --bn frozen \
      >"$out/backends.log" 2>&1
    rc=$?
    note="$(grep -m1 -e 'worst tensor' -e 'MISMATCH' -e 'FAILED' "$out/backends.log" | cut -c1-160)"
    if ((rc == 0)); then record backends_resnet50 PASS $((SECONDS - t)) "$note"
    else record backends_resnet50 FAIL $((SECONDS - t)) "exit status $rc: $note (backends.log)"; fi
  else
    record backends_resnet50 FAIL 0 "no exported ResNet-50 (calibration.log)"
  fi
  rm -rf "${work:?}/models" "${work:?}/backends"

  # 3d. Data parallel on the GPU (docs/distributed.md), when this machine has Open MPI's mpirun
  # (the bundle does not carry it): the example CNN, --bn-sync, 3 steps. mpirun -np 1 runs the
  # NCCL path alone (a communicator of one); -np 2 share the one GPU, so their averages go
  # through the host over MPI: both must give the losses of one process at the global batch.
  t=$SECONDS
  if command -v mpirun >/dev/null; then
    local dp="$work/dp" mpi=(mpirun -q --allow-run-as-root --oversubscribe) ok=1
    mkdir -p "$dp"
    {
      for b in 4 8; do
        "$BUNDLE/bin/lrc-compile" "$ROOT/examples/fashion_cnn.onnx" --device cuda --strategy layerwise --batch $b \
          --data-parallel --bn-sync -o "$dp/dp$b.plan" && \
        "$BUNDLE/bin/lrc-compile" "$ROOT/examples/fashion_cnn.onnx" --device cuda --strategy layerwise --batch $b \
          -o "$dp/one$b.plan" || ok=0
      done
      run_dp() { "$@" --device cuda --data synthetic --steps 3 --seed 1; }
      run_dp "${mpi[@]}" -np 1 "$BUNDLE/bin/lrc-run" "$dp/dp4.plan" --metrics "$dp/nccl1.jsonl" || ok=0
      run_dp "$BUNDLE/bin/lrc-run" "$dp/one4.plan" --metrics "$dp/one4.jsonl" || ok=0
      run_dp "${mpi[@]}" -np 2 "$BUNDLE/bin/lrc-run" "$dp/dp4.plan" --metrics "$dp/ranks2.jsonl" || ok=0
      run_dp "$BUNDLE/bin/lrc-run" "$dp/one8.plan" --metrics "$dp/one8.jsonl" || ok=0
      "$PYTHON" - "$dp" <<'PY' || ok=0
import json, sys
def losses(name):
    return [json.loads(l)["loss"] for l in open(f"{sys.argv[1]}/{name}.jsonl") if '"loss"' in l]
for a, b in (("nccl1", "one4"), ("ranks2", "one8")):
    la, lb = losses(a), losses(b)
    err = max(abs(x - y) / max(abs(y), 1e-12) for x, y in zip(la, lb))
    print(f"{a} vs {b}: losses {la} vs {lb}, max relative error {err:.2e}")
    if len(la) != 3 or err > 1e-4: sys.exit(1)
PY
    } >"$out/data_parallel.log" 2>&1
    if ((ok)); then record data_parallel PASS $((SECONDS - t)) "$(grep -c 'max relative' "$out/data_parallel.log") comparisons (data_parallel.log)"
    else record data_parallel FAIL $((SECONDS - t)) "data_parallel.log: $(grep -m1 -i -e error -e vs "$out/data_parallel.log" | cut -c1-140)"; fi
  else
    record data_parallel "NOT RUN" 0 "no mpirun on this machine (Open MPI is not in the bundle): NCCL unchecked"
  fi

  # 4. The benchmark, in what is left of the time budget.
  # It starts no measurement in its last 2 minutes (--time-limit), so that a slow run still
  # leaves a table; `timeout` is the backstop.
  local remaining=$((budget - (SECONDS - start)))
  ((remaining < 150)) && remaining=150
  t=$SECONDS
  # shellcheck disable=SC2086
  timeout "$remaining" "$PYTHON" "$ROOT/bench/gpu_step.py" --bin "$BUNDLE/bin" --python "$PYTHON" --json "$out/bench.json" \
    --warmup 1 --steps 3 --time-limit $((remaining - 120)) ${LRC_BENCH_ARGS:-} >"$out/bench.log" 2>&1
  rc=$?
  case "$rc" in
    0) record bench PASS $((SECONDS - t)) "bench/gpu_step.py" ;;
    124) record bench FAIL $((SECONDS - t)) "timed out after $remaining s (LRC_GPU_CHECK_SECONDS, LRC_BENCH_ARGS)" ;;
    *) if grep -q '^Not measured' "$out/bench.log"; then
         record bench FAIL $((SECONDS - t)) "time budget reached, rows missing (LRC_GPU_CHECK_SECONDS, LRC_BENCH_ARGS)"
       else
         record bench FAIL $((SECONDS - t)) "exit status $rc (bench.log)"
       fi ;;
  esac

  # The table.
  local failures
  failures="$(grep -c '|FAIL|' "$RESULTS")"
  {
    echo "# gpu-check $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo "GPU: $gpu; $PYTHON: torch $torch_version; bundle: $(sed -n 2p "$BUNDLE/MANIFEST")"
    echo
    echo "| check | result | seconds | note |"
    echo "|---|---|---|---|"
    awk -F'|' '{printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4}' "$RESULTS"
    echo
    echo "$((SECONDS - start)) s in all; $failures failed."
    echo
    echo "## bench/gpu_step.py"
    echo
    if grep -q '^cuda' "$out/bench.log"; then
      sed -n '/^cuda/,$p' "$out/bench.log"
    else
      echo '```'
      tail -5 "$out/bench.log"
      echo '```'
    fi
  } >"$summary"
  rm -f "$RESULTS"
  echo
  cat "$summary"
  ((failures == 0))
}

case "${1:-}" in
  --bundle) shift; bundle "$@" ;;
  --run) shift; run_all "$@" ;;
  *) usage ;;
esac

#!/usr/bin/python3
"""Measures this machine's single-thread float32 SGEMM throughput, with the BLAS lrc-run
links (Debian's OpenBLAS, reached here through numpy), on the GEMM shapes lrc's im2col
convolutions run: the rate that bounds how fast a training step's multiply-adds can go.

  /usr/bin/python3 bench/gemm_rate.py

Shapes: one GEMM per image, as runtime/cpu/Conv.cpp calls it, for the 3x3 (and 1x1)
convolutions of VGG-16 and ResNet-50 at 224x224 whose sizes fall in M = 64..512 (output
channels), K = 576..4608 (input channels x kernel window), N = 784..12544 (output
positions), in the three forms a training step runs: forward C[M,N] = W[M,K] x col[K,N],
backward-data col[K,N] = W^T x dY (A transposed), backward-filter dW[M,K] = dY x col^T
(B transposed). Each shape is timed for at least --min-seconds after one warm-up call,
in --repeats batches; its rate is 2*M*N*K flop over the fastest batch's time per call.
Prints a Markdown table of the shapes and a summary line with the max and the median
GFLOP/s over them; --json prints one JSON object instead ({"max_gflops", "median_gflops",
"blas", "shapes": [...]}), which bench/cpu_step.py --measure-gemm reads.

OPENBLAS_NUM_THREADS (and the other BLAS thread variables) are set to 1 before numpy is
imported; the script checks that the BLAS numpy loaded is the library lrc-run links (by
resolving both in /proc/self/maps and ldd).
"""
import os

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# (M, K, N) = (output channels, input channels x kh x kw, output rows x cols) of one image.
SHAPES = {
    "vgg16": [(64, 576, 12544 * 4), (128, 576, 12544), (128, 1152, 12544), (256, 1152, 3136),
              (256, 2304, 3136), (512, 2304, 784), (512, 4608, 784), (512, 4608, 196)],
    "resnet50": [(64, 576, 3136), (128, 1152, 784), (256, 2304, 196), (512, 4608, 49),
                 (64, 256, 3136), (256, 64, 3136), (128, 512, 784), (512, 128, 784)],
}
# The default selection: the shapes inside the brief's ranges (M 64..512, K 576..4608,
# N 784..12544), the bulk of VGG-16's and ResNet-50's 3x3 convolutions.
DEFAULT = sorted({s for shapes in SHAPES.values() for s in shapes
                  if 576 <= s[1] <= 4608 and 784 <= s[2] <= 12544})


def blas_libraries():
    """The BLAS/LAPACK shared objects mapped into this process (resolved)."""
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            if path.startswith("/") and ("blas" in path or "lapack" in path):
                libs.add(os.path.realpath(path))
    return sorted(libs)


def lrc_run_blas():
    """The BLAS library lrc-run links, resolved, or None when ldd cannot tell."""
    exe = os.path.join(ROOT, "build/tools/lrc-run")
    try:
        out = subprocess.run(["ldd", exe], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    for line in out.splitlines():
        if "blas" in line and "=>" in line:
            return os.path.realpath(line.split("=>")[1].split()[0])
    return None


def time_gemm(form, m, k, n, min_seconds, repeats, rng):
    """Fastest seconds per call of one GEMM form over `repeats` batches of calls."""
    if form == "NN":    # C[M,N] = A[M,K] B[K,N]
        a, b = rng.standard_normal((m, k), np.float32), rng.standard_normal((k, n), np.float32)
        out = np.empty((m, n), np.float32)
    elif form == "TN":  # C[K,N] = A[M,K]^T B[M,N]
        a, b = rng.standard_normal((m, k), np.float32).T, rng.standard_normal((m, n), np.float32)
        out = np.empty((k, n), np.float32)
    elif form == "NT":  # C[M,K] = A[M,N] B[K,N]^T
        a, b = rng.standard_normal((m, n), np.float32), rng.standard_normal((k, n), np.float32).T
        out = np.empty((m, k), np.float32)
    else:
        raise ValueError(form)
    np.matmul(a, b, out=out)  # warm-up (and page in `out`)
    t = time.perf_counter()
    np.matmul(a, b, out=out)
    once = max(time.perf_counter() - t, 1e-6)
    calls = max(1, int(min_seconds / repeats / once))
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(calls):
            np.matmul(a, b, out=out)
        best = min(best, (time.perf_counter() - t) / calls)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--forms", default="NN,TN,NT", help="GEMM forms: NN (forward), TN (backward-data), NT (backward-filter)")
    ap.add_argument("--shapes", default="", help="M,K,N triples separated by ';' (default: VGG-16/ResNet-50 conv shapes)")
    ap.add_argument("--min-seconds", type=float, default=0.6, help="timed seconds per shape and form")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = ap.parse_args()

    shapes = ([tuple(int(x) for x in s.split(",")) for s in args.shapes.split(";") if s.strip()]
              if args.shapes else DEFAULT)
    forms = [f for f in args.forms.split(",") if f]
    rng = np.random.default_rng(0)
    np.matmul(np.ones((8, 8), np.float32), np.ones((8, 8), np.float32))  # load the BLAS
    libs = blas_libraries()
    linked = lrc_run_blas()
    if linked is not None and linked not in libs:
        print(f"gemm_rate: warning: numpy's BLAS {libs} is not lrc-run's {linked}", file=sys.stderr)

    results = []
    for m, k, n in shapes:
        for form in forms:
            s = time_gemm(form, m, k, n, args.min_seconds, args.repeats, rng)
            results.append({"M": m, "K": k, "N": n, "form": form, "seconds": s, "gflops": 2 * m * k * n / s * 1e-9})
    rates = [r["gflops"] for r in results]
    summary = {"max_gflops": max(rates), "median_gflops": statistics.median(rates), "blas": libs,
               "lrc_run_blas": linked, "numpy": np.__version__,
               "threads": os.environ["OPENBLAS_NUM_THREADS"], "shapes": results}
    if args.json:
        print(json.dumps(summary))
        return
    print(f"numpy {np.__version__}, BLAS: {', '.join(libs) or 'none found in /proc/self/maps'}"
          f" (lrc-run links {linked or 'unknown'}), OPENBLAS_NUM_THREADS=1, float32")
    print()
    print("| M | K | N | form | ms per call | GFLOP/s |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['M']} | {r['K']} | {r['N']} | {r['form']} | {r['seconds'] * 1e3:.2f} | {r['gflops']:.1f} |")
    print()
    print(f"single-thread SGEMM: max {summary['max_gflops']:.1f} GFLOP/s, "
          f"median {summary['median_gflops']:.1f} GFLOP/s over {len(results)} shape/form pairs")


if __name__ == "__main__":
    main()

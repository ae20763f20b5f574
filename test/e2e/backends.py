#!/usr/bin/python3
"""A device backend against the CPU backend on a real network: one plan (lrc-compile
--device cuda), the same batch, a few SGD steps on each backend; every loss and every
trained parameter must agree. parity.py compares against PyTorch on small models; this runs
the shapes of a full network (strided and 1x1 convolutions, bottlenecks, downsampling
shortcuts, its classifier) through the device's kernels.

  backends.py --bin BUILD/tools --work DIR --device cuda|cuda-emulated MODEL.onnx
              [--input-shape C,H,W] [--batch N] [--steps K] [-- extra lrc-compile flags]

Two float32 effects make correct backends disagree on large networks (docs/cuda.md), so the
comparison wants layerwise plans with frozen BatchNorm (-- --strategy layerwise --bn frozen):
training-mode BatchNorm over a handful of values per channel is ill-conditioned, and a row
plan's recompute can flip a ReLU whose input is within rounding of 0 (the recomputed value
need not be bit-identical to the forward's when the GEMM's shape differs). Tolerance: 1e-4
relative to each tensor's largest value, and to each loss (the backends sum in different
orders; after three steps of ResNet-50 at 64x64, layerwise with frozen BatchNorm, the CPU
and cuda-emulated agree within 4e-6).

Exit status 0 when everything agrees, 1 on a mismatch or failure, 77 when --device cuda has
no usable GPU (lrc-run's "--device cuda: ..." refusal; ctest's SKIP_RETURN_CODE).
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import onnx
import onnx.numpy_helper

TOLERANCE = 1e-4
NO_GPU = 77


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        if any(line.startswith("lrc-run: error: --device cuda:") for line in p.stderr.splitlines()):
            print(f"skipped: {p.stderr.strip()}")
            sys.exit(NO_GPU)
        sys.exit(f"FAILED: {' '.join(cmd)}\n{p.stdout}{p.stderr}")
    return p.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--device", required=True, choices=["cuda", "cuda-emulated"])
    ap.add_argument("--input-shape", help="C,H,W for lrc-compile")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("model")
    ap.add_argument("compile_flags", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    flags = [f for f in args.compile_flags if f != "--"]
    os.makedirs(args.work, exist_ok=True)
    path = lambda name: os.path.join(args.work, name)

    plan = path("plan.bin")
    shape = ["--input-shape", args.input_shape] if args.input_shape else []
    run([os.path.join(args.bin, "lrc-compile"), args.model, "--batch", str(args.batch), *shape, "--device", "cuda",
         *flags, "-o", plan])
    # The batch: the plan's own input shape, from its text.
    text = run([os.path.join(args.bin, "lrc-compile"), args.model, "--batch", str(args.batch), *shape, "--device",
                "cuda", *flags, "--emit", "plan"])
    image = next(line for line in text.splitlines() if line.strip().startswith("#0 "))
    dims = [int(d) for d in image.split("[", 1)[1].split("]", 1)[0].split(",")]
    rng = np.random.default_rng(0)
    np.save(path("x.npy"), rng.standard_normal(dims).astype(np.float32))
    np.save(path("y.npy"), rng.integers(0, 10, size=dims[0]).astype(np.int64))

    results = {}
    for device in ("cpu", args.device):
        metrics, trained = path(f"{device}.jsonl"), path(f"{device}.onnx")
        run([os.path.join(args.bin, "lrc-run"), plan, "--data", f"npy:{path('x.npy')},{path('y.npy')}", "--steps",
             str(args.steps), "--device", device, "--metrics", metrics, "--save-onnx", trained])
        with open(metrics) as f:
            losses = [json.loads(line)["loss"] for line in f if '"loss"' in line]
        state = {t.name: onnx.numpy_helper.to_array(t) for t in onnx.load(trained).graph.initializer}
        results[device] = (losses, state)
        os.remove(trained)
    os.remove(plan)

    (cpu_losses, cpu_state), (dev_losses, dev_state) = results["cpu"], results[args.device]
    bad = []
    for i, (a, b) in enumerate(zip(cpu_losses, dev_losses)):
        if abs(a - b) > TOLERANCE * max(abs(a), 1e-12):
            bad.append(f"loss of step {i + 1}: cpu {a} vs {args.device} {b}")
    worst = (0.0, "")
    for name, a in cpu_state.items():
        b = dev_state[name]
        err = float(np.abs(a.astype(np.float64) - b).max() / max(float(np.abs(a).max()), 1e-12))
        worst = max(worst, (err, name))
        if err > TOLERANCE:
            bad.append(f"{name}: normalized difference {err:.3g}")
    print(f"{os.path.basename(args.model)} {' '.join(flags)}: {len(cpu_losses)} losses, {len(cpu_state)} tensors; "
          f"worst tensor {worst[1]} {worst[0]:.3g}; losses cpu {cpu_losses} vs {args.device} {dev_losses}")
    if len(cpu_losses) != args.steps or len(dev_losses) != args.steps:
        bad.append(f"expected {args.steps} losses, got {len(cpu_losses)} and {len(dev_losses)}")
    if bad:
        print("MISMATCH:\n  " + "\n  ".join(bad))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""A device backend against the CPU backend on a real network: one plan (lrc-compile
--device cuda), the same batch, a few SGD steps on each backend; every loss and every
trained parameter must agree. parity.py compares against PyTorch on small models; this runs
the shapes of a full network (strided and 1x1 convolutions, bottlenecks, downsampling
shortcuts, its classifier) through the device's kernels.

  backends.py --bin BUILD/tools --work DIR --device cuda|cuda-emulated MODEL.onnx
              [--input-shape C,H,W] [--batch N] [--steps K] [--torch-arch NAME]
              [--cpu-conv im2col|dnnl|dnnl-plain] [-- extra lrc-compile flags]

Two float32 effects make correct backends disagree on large networks (docs/cuda.md), so the
comparison wants layerwise plans with frozen BatchNorm (-- --strategy layerwise --bn frozen):
training-mode BatchNorm over a handful of values per channel is ill-conditioned, and a row
plan's recompute can flip a ReLU whose input is within rounding of 0 (the recomputed value
need not be bit-identical to the forward's when the GEMM's shape differs). Tolerance: 1e-4
relative to each tensor's largest value, and to each loss (the backends sum in different
orders; after three steps of ResNet-50 at 64x64, layerwise with frozen BatchNorm, the CPU's
im2col convolutions and cuda-emulated agree within 4e-6).

The CPU side runs its reference convolutions, im2col + BLAS (LRC_CPU_CONV=im2col, whatever
the default; --cpu-conv picks another path): the point is the device's kernels against the
CPU's on summation orders as near as two backends get (the CUDA backend's convolutions are
im2col and a GEMM too, runtime/cuda/Conv.cuh), not float32's conditioning. With the CPU's
oneDNN convolutions (another order) this run is not well conditioned: each step has ReLU
inputs within 3e-7 of their call's largest (2 to 11 within 1e-6 per step; PyTorch float32
decides none of them otherwise), and one unit switched on or off moves a near-zero
frozen-BatchNorm bias by a whole term of its 32-term gradient sum (layer3: 2 images x 4x4):
after two steps layer3.1.bn3.bias is 9e3 x PyTorch float32's own error from float64 with
oneDNN at 2 threads, 1.1x with im2col; which configuration flips a unit depends on the thread
count, the plan's workspace and the learning rate (docs/benchmarks.md "oneDNN the default").

--torch-arch NAME (the ONNX file is torchvision's NAME in training mode, its initializers
named as in its state dict) measures float32's noise as test/e2e/parity.py does: the same SGD
steps in PyTorch float64 and float32 from the file's initializers on the same batch; each
loss's and tensor's bound is then the larger of the tolerance and parity.F32_NOISE x PyTorch
float32's own error from float64 on it, and both backends' errors from float64 are printed
beside PyTorch float32's.

Exit status 0 when everything agrees, 1 on a mismatch or failure, 77 when --device cuda has
no usable GPU (lrc-run's "--device cuda: ..." refusal; ctest's SKIP_RETURN_CODE).
"""
import argparse
import copy
import json
import os
import subprocess
import sys

import numpy as np
import onnx
import onnx.numpy_helper

TOLERANCE = 1e-4
NO_GPU = 77
# lrc-compile's default optimizer (compiler/EmitPlan.cpp defaultOptimizer), which lrc-run
# trains with when given no optimizer flags: the --torch-arch reference's.
SGD_LR, SGD_MOMENTUM = 0.01, 0.9


def run(cmd, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        if any(line.startswith("lrc-run: error: --device cuda:") for line in p.stderr.splitlines()):
            print(f"skipped: {p.stderr.strip()}")
            sys.exit(NO_GPU)
        sys.exit(f"FAILED: {' '.join(cmd)}\n{p.stdout}{p.stderr}")
    return p.stdout


def torch_noise(arch, model_path, x, y, steps, frozen):
    """PyTorch's float64 and float32 runs of torchvision's ARCH with MODEL_PATH's initializers
    (lrc-run's default SGD, BatchNorm in eval mode when frozen, else training mode): per step
    the float64 loss and float32's relative error from it; per tensor float64's value and
    float32's max abs error from it relative to float64's largest value."""
    import torch
    import torch.nn.functional as F
    import torchvision
    torch.set_num_threads(1)
    model = getattr(torchvision.models, arch)(weights=None)
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in onnx.load(model_path).graph.initializer}
    state = model.state_dict()
    missing = [k for k in state if k not in inits and not k.endswith("num_batches_tracked")]
    if missing:
        sys.exit(f"FAILED: --torch-arch {arch}: {model_path} has no initializer {missing[0]}")
    model.load_state_dict({k: torch.from_numpy(inits[k].copy()).reshape(v.shape) if k in inits else v
                           for k, v in state.items()})
    runs = {}
    for dtype in (torch.float64, torch.float32):
        m = copy.deepcopy(model).to(dtype).train()
        if frozen:
            for mod in m.modules():
                if isinstance(mod, torch.nn.BatchNorm2d):
                    mod.eval()
        opt = torch.optim.SGD(m.parameters(), lr=SGD_LR, momentum=SGD_MOMENTUM)
        losses = []
        for _ in range(steps):
            opt.zero_grad()
            loss = F.cross_entropy(m(torch.from_numpy(x).to(dtype)), torch.from_numpy(y))
            losses.append(loss.item())
            loss.backward()
            opt.step()
        runs[dtype] = (losses, {k: v.detach().double().numpy() for k, v in m.state_dict().items()})
    (l64, s64), (l32, s32) = runs[torch.float64], runs[torch.float32]
    loss_noise = [abs(a - b) / max(abs(b), 1e-12) for a, b in zip(l32, l64)]
    tensor_noise = {k: float(np.abs(s32[k] - v).max()) / max(float(np.abs(v).max()), 1e-12) for k, v in s64.items()}
    return l64, loss_noise, s64, tensor_noise


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--device", required=True, choices=["cuda", "cuda-emulated"])
    ap.add_argument("--input-shape", help="C,H,W for lrc-compile")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--torch-arch", metavar="NAME",
                    help="the model is torchvision's NAME: bound each loss and tensor by parity.py's "
                         "F32_NOISE x PyTorch float32's own error from float64 where that is larger")
    ap.add_argument("--cpu-conv", choices=["im2col", "dnnl", "dnnl-plain"], default="im2col",
                    help="LRC_CPU_CONV of the CPU side's lrc-run (default im2col, the reference)")
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
             str(args.steps), "--device", device, "--metrics", metrics, "--save-onnx", trained],
            env=dict(os.environ, LRC_CPU_CONV=args.cpu_conv))
        with open(metrics) as f:
            losses = [json.loads(line)["loss"] for line in f if '"loss"' in line]
        state = {t.name: onnx.numpy_helper.to_array(t) for t in onnx.load(trained).graph.initializer}
        results[device] = (losses, state)
        os.remove(trained)
    os.remove(plan)

    (cpu_losses, cpu_state), (dev_losses, dev_state) = results["cpu"], results[args.device]
    loss_floor, tensor_floor = [0.0] * len(cpu_losses), {}
    if args.torch_arch:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import parity  # noqa: E402  (F32_NOISE: the float32 floor's factor)
        x, y = np.load(path("x.npy")), np.load(path("y.npy"))
        l64, loss_noise, s64, tensor_noise = torch_noise(args.torch_arch, args.model, x, y, args.steps,
                                                         "--bn" in flags and flags[flags.index("--bn") + 1] == "frozen")
        loss_floor = [parity.F32_NOISE * n for n in loss_noise]
        tensor_floor = {k: parity.F32_NOISE * n for k, n in tensor_noise.items()}
        vs64 = lambda got, ref: abs(got - ref) / max(abs(ref), 1e-12)
        for i, ref in enumerate(l64):
            print(f"step {i + 1}: loss error from PyTorch float64: cpu {vs64(cpu_losses[i], ref):.2e}, {args.device} "
                  f"{vs64(dev_losses[i], ref):.2e}, PyTorch float32 {loss_noise[i]:.2e}")
        for what, state in (("cpu", cpu_state), (args.device, dev_state)):
            ratio = max((float(np.abs(state[k].reshape(v.shape) - v).max()) / max(float(np.abs(v).max()), 1e-12) /
                         max(tensor_noise[k], 1e-12), k) for k, v in s64.items() if k in state)
            print(f"{what}: largest tensor error from PyTorch float64 / PyTorch float32's: {ratio[0]:.2f} ({ratio[1]})")
    bad = []
    for i, (a, b) in enumerate(zip(cpu_losses, dev_losses)):
        bound = max(TOLERANCE, loss_floor[i] if i < len(loss_floor) else 0.0)
        if abs(a - b) > bound * max(abs(a), 1e-12):
            bad.append(f"loss of step {i + 1}: cpu {a} vs {args.device} {b} (bound {bound:.2e})")
    worst = (0.0, "")
    for name, a in cpu_state.items():
        b = dev_state[name]
        err = float(np.abs(a.astype(np.float64) - b).max() / max(float(np.abs(a).max()), 1e-12))
        bound = max(TOLERANCE, tensor_floor.get(name, 0.0))
        worst = max(worst, (err / bound, name))
        if err > bound:
            bad.append(f"{name}: normalized difference {err:.3g} > {bound:.3g}")
    print(f"{os.path.basename(args.model)} {' '.join(flags)}: {len(cpu_losses)} losses, {len(cpu_state)} tensors; "
          f"worst tensor {worst[1]} {worst[0]:.3g} of its bound; losses cpu {cpu_losses} vs {args.device} {dev_losses}")
    if len(cpu_losses) != args.steps or len(dev_losses) != args.steps:
        bad.append(f"expected {args.steps} losses, got {len(cpu_losses)} and {len(dev_losses)}")
    if bad:
        print("MISMATCH:\n  " + "\n  ".join(bad))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

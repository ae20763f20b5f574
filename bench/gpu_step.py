#!/usr/bin/env python3
"""One training step on the GPU: step time and peak device memory of lrc's plans (lrc-run
--device cuda) against PyTorch, plain and with torch.utils.checkpoint, measured in one run
(same model, batch, image size, precision and GPU).

  python3 bench/gpu_step.py --models vgg16,resnet50 --batch 32
  python3 bench/gpu_step.py --bin gpu-bundle/bin --models resnet50 --batch 32 --precision tf32 \
      --lrc-plans "layerwise;2ps --strips 4 --cut downsample;auto --memory-budget 6GiB"

--lrc-plans: lrc-compile flag sets separated by ';', each one plan (as in bench/cpu_step.py:
a set that starts with a word is `--strategy WORD ...`); every plan is compiled with
`--device cuda` (which only --strategy auto reads: without --memory-budget it picks the
least memory within 1.5x layerwise's predicted time). Default: layerwise, 2PS and OverL at
4 strips with segment cuts, and auto.

Step time: the median over the timed steps after the warm-up steps (lrc: --metrics'
step_seconds, each step ends reading its loss back, so the GPU work is done; PyTorch:
torch.cuda.synchronize() before and after each step, perf_counter between), then the
median over --runs runs, which alternate (PyTorch, PyTorch checkpoint, lrc plan 1, 2, ...,
PyTorch, ...). lrc's step includes copying the batch in from the host (19 MB at batch 32,
224x224); PyTorch's batch stays on the GPU. --time-limit S starts no measurement after S
seconds and prints what it has (scripts/gpu-check.sh runs it in a time budget).
Memory: lrc: device_memory_used_bytes from lrc-run's device memory line (the CUDA backend's
memoryReport: how much cudaMemGetInfo's free memory dropped from the backend's start, after
the CUDA context was made, to the end of training: the arena, lrc's workspace, cuBLAS's
32 MiB workspace and the rest, such as loaded kernels), and the arena's predicted and measured peak; PyTorch:
torch.cuda.max_memory_allocated() over the whole run, weights, gradients and momentum
included (max_memory_reserved, what its caching allocator held, beside it). Neither counts
the CUDA context.
Precision: --precision fp32 (default) is full FP32 on both sides: lrc-run's default, and
PyTorch with TF32 turned off for matmuls and cuDNN convolutions (cuDNN's is on by default);
--precision tf32 turns it on for both (lrc-run --precision tf32).
PyTorch runs in a fresh process per measurement (--python, default this interpreter);
checkpointing is checkpoint_sequential over the convolutional part in --torch-checkpoint
segments (0: none), non-reentrant where this torch has the choice.

--device cuda-emulated runs lrc's CUDA backend on the host and PyTorch on the CPU (no
device memory figures): only for trying this script without a GPU, at a tiny --size.
With --device cuda and no usable GPU, it says why and exits with status 77.
Plans are compiled into a temporary folder and deleted (a VGG-16 plan is 550 MB).
"""
import argparse
import atexit
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import row_memory  # noqa: E402
from row_memory import compile_plan, plan_flags  # noqa: E402

NO_GPU = 77
DEFAULT_PLANS = "layerwise;2ps --strips 4 --cut downsample;overl --strips 4 --cut downsample;auto"

# Probes the interpreter's torch: JSON {cuda, torch, gpu, why}.
TORCH_PROBE = r"""
import json, torch
ok = torch.cuda.is_available()
why = "" if ok else ("this torch has no CUDA (torch.version.cuda is None)" if torch.version.cuda is None
                     else "torch.cuda.is_available() is False (no GPU or no driver)")
print(json.dumps({"cuda": ok, "torch": torch.__version__, "gpu": torch.cuda.get_device_name(0) if ok else None,
                  "why": why}))
"""

# Exports torchvision's model in training mode (opset 13, the TorchScript exporter: torch
# >= 2.9 defaults to the torch.export one, which ignores `training`; 1.13 has no choice), at
# batch 2 (BatchNorm in training mode needs two values per channel at a tiny --size);
# lrc-compile --batch sets the batch.
EXPORT = r"""
import inspect, sys, torch, torchvision
name, size, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
torch.manual_seed(0)
m = getattr(torchvision.models, name)().train()
extra = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
torch.onnx.export(m, torch.randn(2, 3, size, size), path, opset_version=13,
                  training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False, **extra)
print("{}")
"""

TORCH_WORKER = r"""
import inspect, json, sys, time
import torch, torchvision
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint_sequential
name, batch, size, warmup, steps, segments = sys.argv[1], *map(int, sys.argv[2:7])
dev, tf32 = torch.device(sys.argv[7]), sys.argv[8] == "tf32"
gpu = dev.type == "cuda"
torch.backends.cuda.matmul.allow_tf32 = tf32
torch.backends.cudnn.allow_tf32 = tf32
torch.manual_seed(0)
if gpu:
    torch.cuda.init()
    torch.cuda.reset_peak_memory_stats()
model = getattr(torchvision.models, name)().to(dev).train()
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
x = torch.randn(batch, 3, size, size, device=dev)
y = torch.randint(0, 1000, (batch,), device=dev)
forward = model
if segments:  # checkpoint_sequential over the convolutional part, in `segments` pieces
    if name.startswith("vgg"):
        body = model.features
        head = lambda t: model.classifier(torch.flatten(model.avgpool(t), 1))
    else:
        m = model
        # The stem as one piece: a segment may not start at its in-place ReLU (reentrant kind).
        stem = torch.nn.Sequential(m.conv1, m.bn1, m.relu, m.maxpool)
        body = torch.nn.Sequential(stem, m.layer1, m.layer2, m.layer3, m.layer4)
        head = lambda t: m.fc(torch.flatten(m.avgpool(t), 1))
    kw = {}
    if "use_reentrant" in inspect.signature(checkpoint_sequential).parameters:
        kw["use_reentrant"] = False
    else:  # the reentrant kind only: the input must require a gradient for the first segment's weights
        x.requires_grad_(True)
    forward = lambda t: head(checkpoint_sequential(body, segments, t, **kw))
sync = torch.cuda.synchronize if gpu else (lambda: None)
times = []
for i in range(warmup + steps):
    sync()
    t = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    F.cross_entropy(forward(x), y).backward()
    opt.step()
    sync()
    if i >= warmup:
        times.append(time.perf_counter() - t)
r = {"step_times": times}
if gpu:
    r.update(peak_allocated=torch.cuda.max_memory_allocated(), peak_reserved=torch.cuda.max_memory_reserved())
print(json.dumps(r))
"""


def fail(msg, status=1):
    print(f"gpu_step.py: {msg}", file=sys.stderr)
    sys.exit(status)


def python_json(python, code, *argv, timeout=None):
    """Runs `python -c code argv...`; returns (its last stdout line as JSON, None) or (None, error)."""
    try:
        p = subprocess.run([python, "-c", code, *map(str, argv)], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout} s"
    if p.returncode != 0:
        return None, "\n".join(p.stderr.strip().splitlines()[-15:] + [f"(exit status {p.returncode})"])
    return json.loads(p.stdout.strip().splitlines()[-1]), None


def device_memory(stdout):
    """(lrc-run's device memory line, its device_memory_used_bytes) or (None, None): the
    line is CudaDevice::memoryReport's, "device memory on GPU: X MiB used (cudaMemGetInfo):
    arena ..., lrc workspace ..., cuBLAS workspace ..., other ... (device_memory_used_bytes=N)"
    (the emulated backend prints none)."""
    for line in stdout.splitlines():
        if line.startswith("device memory on "):
            m = re.search(r"device_memory_used_bytes=(\d+)", line)
            return line.strip(), int(m.group(1)) if m else None
    return None, None


def lrc_run(args, plan, work):
    """(median step seconds, device memory line, its total bytes, predicted arena, measured arena),
    or the error text of a failed run (a str)."""
    metrics = os.path.join(work, "metrics.jsonl")
    cmd = [os.path.join(args.bin, "lrc-run"), plan, "--data", "synthetic", "--steps", str(args.warmup + args.steps),
           "--device", args.device, "--metrics", metrics]
    if args.precision == "tf32":
        cmd += ["--precision", "tf32"]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return f"timed out after {args.timeout} s: {' '.join(cmd)}"
    if p.returncode != 0:
        return (p.stderr.strip() or p.stdout.strip()) + f" (exit status {p.returncode})"
    records = [json.loads(line) for line in open(metrics)]
    times = [r["step_seconds"] for r in records if "step_seconds" in r][args.warmup:]
    final = [r for r in records if "measured_peak_bytes" in r][-1]
    line, total = device_memory(p.stdout)
    return (statistics.median(times), line, total, final["predicted_peak_bytes"], final["measured_peak_bytes"])


def label_of(spec, summary):
    """The plan's label; for --strategy auto also what it chose."""
    if not spec.split() or spec.split()[0] != "auto" or not summary:
        return f"lrc {spec}"
    strips = re.search(r"up to (\d+) forward / (\d+) backward", summary.get("row_line") or "")
    chose = summary.get("strategy") or "?"
    if strips:
        chose += f" {strips.group(1)}/{strips.group(2)} strips"
    return f"lrc {spec} ({chose})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build/tools"), help="folder holding lrc-compile and lrc-run")
    ap.add_argument("--models", default="vgg16,resnet50")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--runs", type=int, default=1, help="alternating runs of each side")
    ap.add_argument("--lrc-plans", default=DEFAULT_PLANS,
                    help=f"lrc-compile flag sets separated by ';' (default '{DEFAULT_PLANS}')")
    ap.add_argument("--torch-checkpoint", type=int, default=4, metavar="K",
                    help="PyTorch with checkpoint_sequential over the conv part in K segments (0: not run)")
    ap.add_argument("--device", choices=["cuda", "cuda-emulated"], default="cuda")
    ap.add_argument("--precision", choices=["fp32", "tf32"], default="fp32")
    ap.add_argument("--python", default=sys.executable, help="interpreter with torch and torchvision for PyTorch's side")
    ap.add_argument("--timeout", type=int, default=600, help="seconds for each lrc-run and PyTorch process")
    ap.add_argument("--time-limit", type=float, default=0, metavar="S",
                    help="start no new measurement after S seconds (0: no limit); the table shows what was measured")
    ap.add_argument("--json", metavar="OUT", help="also write the rows as JSON")
    ap.add_argument("--export-only", metavar="DIR",
                    help="only export --models at --size to DIR/MODEL_train_op13.onnx (what bench/calibrate.py "
                         "--models-dir reads; no GPU needed) and exit")
    args = ap.parse_args()
    for name in ("batch", "size", "steps", "runs"):
        if getattr(args, name) < 1:
            ap.error(f"--{name} must be at least 1")
    if args.warmup < 0 or args.torch_checkpoint < 0:
        ap.error("--warmup and --torch-checkpoint must not be negative")
    if args.precision == "tf32" and args.device != "cuda":
        ap.error("--precision tf32 needs --device cuda")
    if args.export_only:
        os.makedirs(args.export_only, exist_ok=True)
        for model in args.models.split(","):
            path = os.path.join(args.export_only, f"{model}_train_op13.onnx")
            _, err = python_json(args.python, EXPORT, model, args.size, path, timeout=args.timeout)
            if err:
                fail(f"exporting {model}: {err}")
            print(f"wrote {path}")
        return 0
    specs = [s.strip() for s in args.lrc_plans.split(";") if s.strip()]
    for tool in ("lrc-compile", "lrc-run"):
        if not os.access(os.path.join(args.bin, tool), os.X_OK):
            fail(f"no {tool} in {args.bin} (--bin)")
    row_memory.COMPILE = os.path.join(args.bin, "lrc-compile")  # compile_plan runs this one

    probe, err = python_json(args.python, TORCH_PROBE, timeout=300)
    if err:
        fail(f"{args.python} cannot run torch: {err}")
    gpu = args.device == "cuda"
    if gpu and not probe["cuda"]:
        fail(f"--device cuda: no usable GPU: {probe['why']} (torch {probe['torch']}, {args.python})", NO_GPU)
    torch_device = "cuda" if gpu else "cpu"

    work = tempfile.mkdtemp(prefix="lrc-gpu-bench-")
    atexit.register(shutil.rmtree, work, True)  # plans of VGG-16 are 550 MB each
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that atexit runs under `timeout`
    rows, errors, skipped = [], [], []
    started = time.monotonic()
    out_of_time = lambda: args.time_limit and time.monotonic() - started > args.time_limit
    for model in args.models.split(","):
        if out_of_time():
            skipped.append(model)
            continue
        onnx_path = os.path.join(work, f"{model}.onnx")
        _, err = python_json(args.python, EXPORT, model, args.size, onnx_path, timeout=args.timeout)
        if err:
            errors.append((model, "export", "torch.onnx.export", err))
            continue
        plans = []  # [spec, path, summary]
        for i, spec in enumerate(specs):
            path = os.path.join(work, f"{model}.{i}.plan")
            summary, err = compile_plan(onnx_path, args.batch, plan_flags(spec) + ["--device", "cuda"], path)
            if err:
                errors.append((model, spec, "lrc-compile", err))
                continue
            plans.append([spec, path, summary])
        os.remove(onnx_path)
        results = {p[0]: [] for p in plans}
        sides = [("PyTorch", 0)] + ([(f"PyTorch checkpoint_sequential({args.torch_checkpoint})",
                                      args.torch_checkpoint)] if args.torch_checkpoint else [])
        torch_results = {label: [] for label, _ in sides}
        for _ in range(args.runs):
            for label, segments in sides:
                if label not in torch_results:
                    continue
                if out_of_time():
                    skipped.append(f"{model} {label}")
                    continue
                r, err = python_json(args.python, TORCH_WORKER, model, args.batch, args.size, args.warmup, args.steps,
                                     segments, torch_device, args.precision, timeout=args.timeout)
                if err:
                    errors.append((model, label, "torch", err))
                    del torch_results[label]
                    continue
                torch_results[label].append(r)
            for spec, path, _ in plans:
                if spec not in results:
                    continue
                if out_of_time():
                    skipped.append(f"{model} lrc {spec}")
                    continue
                r = lrc_run(args, path, work)
                if isinstance(r, str):
                    if gpu and "--device cuda:" in r:
                        fail(f"lrc-run refused the GPU that torch sees ({probe['gpu']}): {r}")
                    errors.append((model, spec, "lrc-run", r))
                    del results[spec]
                    continue
                results[spec].append(r)
        for path in [p[1] for p in plans]:
            os.remove(path)
        base = {}
        for label, rs in torch_results.items():
            if not rs:
                continue
            t = statistics.median(statistics.median(r["step_times"]) for r in rs)
            mem = max(r["peak_allocated"] for r in rs) if gpu else None
            reserved = max(r["peak_reserved"] for r in rs) if gpu else None
            base[label] = (t, mem)
            rows.append(dict(model=model, run=label, step_s=t, device_bytes=mem, reserved_bytes=reserved))
        for spec, path, summary in plans:
            rs = results.get(spec)
            if not rs:
                continue
            rows.append(dict(model=model, run=label_of(spec, summary), step_s=statistics.median(r[0] for r in rs),
                             device_bytes=rs[-1][2], device_line=rs[-1][1], predicted_bytes=rs[-1][3],
                             measured_bytes=rs[-1][4], gmac=summary.get("gmac")))
        for row in rows:
            if row["model"] == model:
                row["base"] = base

    mib = lambda b: f"{b / 2**20:.0f}" if b is not None else "-"
    ratio = lambda a, b: f"{a / b:.2f}x" if a is not None and b else "-"
    print(f"{args.device}: {probe['gpu'] or 'host (emulated)'}; torch {probe['torch']} on {torch_device}; "
          f"batch {args.batch}, {args.size}x{args.size}, {args.precision.upper()}, "
          f"{args.steps} timed steps after {args.warmup} warm-up, {args.runs} run(s) each")
    print()
    ck = f"PyTorch checkpoint_sequential({args.torch_checkpoint})" if args.torch_checkpoint else None
    print("| model | run | step (ms) | / PyTorch |" + (" / PyTorch ckpt |" if ck else "") +
          " device memory (MiB) | / PyTorch |" + (" / PyTorch ckpt |" if ck else "") +
          " lrc arena predicted (MiB) | measured |")
    print("|---|---|---|---|" + ("---|" if ck else "") + "---|---|" + ("---|" if ck else "") + "---|---|")
    for row in rows:
        base = row["base"]
        pt, ckp = base.get("PyTorch", (None, None)), base.get(ck, (None, None)) if ck else None
        mem = mib(row["device_bytes"])
        if row.get("reserved_bytes") is not None:
            mem += f" ({mib(row['reserved_bytes'])} reserved)"
        cells = [row["model"], row["run"], f"{row['step_s'] * 1e3:.1f}", ratio(row["step_s"], pt[0])]
        if ck:
            cells.append(ratio(row["step_s"], ckp[0]))
        cells += [mem, ratio(row["device_bytes"], pt[1])]
        if ck:
            cells.append(ratio(row["device_bytes"], ckp[1]))
        if "predicted_bytes" in row:
            p, m = row["predicted_bytes"], row["measured_bytes"]
            cells += [mib(p), "=" if p == m else mib(m)]
        else:
            cells += ["", ""]
        print("| " + " | ".join(cells) + " |")
    print()
    print("Device memory: lrc: device_memory_used_bytes of lrc-run's device memory line (cudaMemGetInfo's drop "
          "from the backend's start to the end of training: arena + lrc workspace + cuBLAS workspace + other); "
          "PyTorch: torch.cuda.max_memory_allocated() (max_memory_reserved in parentheses). "
          "Neither counts the CUDA context.")
    lines = [(r["model"], r["run"], r["device_line"]) for r in rows if r.get("device_line")]
    for model, run, line in lines:
        print(f"  {model} {run}: {line}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{k: v for k, v in r.items() if k != "base"} for r in rows], f, indent=1)
    if skipped:
        print(f"\nNot measured (--time-limit {args.time_limit:g} s reached): " + ", ".join(skipped))
    for model, what, tool, err in errors:
        print(f"\n{model} `{what}`: {tool} failed:\n```\n{err}\n```")
    return 1 if errors or skipped else 0


if __name__ == "__main__":
    sys.exit(main())

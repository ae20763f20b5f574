#!/usr/bin/python3
"""Times one training step and measures peak memory of lrc and of PyTorch on the CPU, side
by side in one run: same model, batch, image size and thread count, runs alternating
(lrc plan 1, lrc plan 2, ..., torch, [torch checkpoint], lrc plan 1, ...) so that machine
noise hits all alike.

  /usr/bin/python3 bench/cpu_step.py --models vgg16,resnet50 --batch 4 --threads 1
  /usr/bin/python3 bench/cpu_step.py --models vgg16 --batch 8 --torch-checkpoint 4 --measure-gemm \
      --lrc-plans "layerwise;2ps --strips 8 --cut downsample;overl --strips 4 --cut downsample"

--lrc-plans: lrc-compile flag sets separated by ';', each one plan (default "layerwise"); a
set that starts with a word is `--strategy WORD ...`, one that starts with '-' is taken as
it is. Leading NAME=VALUE words are environment variables for that plan's lrc-run, e.g.
"LRC_CPU_CONV=im2col layerwise;LRC_CPU_CONV=dnnl layerwise" (runtime/cpu/Conv.h). LRC_BIN=DIR
takes that plan's lrc-compile and lrc-run from DIR instead of this tree's build/tools (another
build side by side, e.g. "LRC_BIN=/tmp/before layerwise;layerwise").

Step time: the median over the timed steps (after warm-up steps) of each run, then the
median over runs. Memory: each process's peak RSS minus its RSS at its start (PyTorch:
wait4's ru_maxrss minus the RSS after its imports, before the model is built; lrc: VmHWM
minus VmRSS at the start of main, which lrc-run reports; weights, gradients and optimizer
state count on both sides), and for lrc the predicted and measured arena.
Work: the training step's conv/gemm multiply-adds from lrc-compile's summary (a row plan's
"row plan:" line; a layerwise plan's figure is that line's "vs" figure, from another row
plan of the same model and batch, or from an extra `2ps --strips 2` compile), and the
GMAC/s a plan achieved (work / step time). With a single-thread SGEMM rate (--gemm-gflops X,
or --measure-gemm to run bench/gemm_rate.py and take its max), the floor is the time the
step's GEMMs alone would take at that rate, 2 * GMAC / (GFLOP/s), and step / floor how far
the step is from it. PyTorch's row uses the layerwise work (the same arithmetic).
Prints Markdown tables for docs/benchmarks.md.
"""
import argparse
import atexit
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from row_memory import compile_plan, plan_flags  # noqa: E402

TORCH_WORKER = r"""
import json, resource, sys, time
import torch, torchvision
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint_sequential
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096
def checkpointed(model, name, segments):
    # model's forward with torch.utils.checkpoint.checkpoint_sequential over its convolutional
    # part in `segments` pieces. ResNets: the stem's modules and every residual block are the
    # Sequential's elements (a block is never split), so K segments cut between blocks.
    if name.startswith("vgg"):
        body = model.features
        head = lambda t: model.classifier(torch.flatten(model.avgpool(t), 1))
    else:
        m = model
        body = torch.nn.Sequential(m.conv1, m.bn1, m.relu, m.maxpool,
                                   *m.layer1, *m.layer2, *m.layer3, *m.layer4)
        head = lambda t: m.fc(torch.flatten(m.avgpool(t), 1))
    # torch 1.13's checkpoint_sequential runs segment i (start = i * (len // segments)) on
    # its input detached with requires_grad: a leaf, so an in-place ReLU that is a segment's
    # first module fails ("a leaf Variable that requires grad is being used in an in-place
    # operation"; ResNet-50's stem ReLU at K=4). Only those ReLUs become out-of-place; the
    # others (and those inside blocks) stay in place as in the plain model.
    seg = len(body) // segments
    for i in range(0, len(body), seg):
        if isinstance(body[i], torch.nn.ReLU):
            body[i].inplace = False
    # The reentrant kind: the input must require a gradient or the first segment's weights
    # get none (it then also computes dL/dx).
    return lambda t: head(checkpoint_sequential(body, segments, t.requires_grad_(True)))
name, batch, size, threads, warmup, steps, segments = sys.argv[1], *map(int, sys.argv[2:8])
torch.set_num_threads(threads)
torch.manual_seed(0)
start_rss = rss()  # after the imports, before the model: weights count, as in lrc's arena
model = getattr(torchvision.models, name)().train()
x = torch.randn(batch, 3, size, size)
y = torch.randint(0, 1000, (batch,))
if segments < 0:  # --check-torch-checkpoint: checkpointed parameter gradients = plain ones
    import copy
    plain = copy.deepcopy(model)
    torch.manual_seed(1)  # the same dropout masks (VGG's classifier) in both
    F.cross_entropy(plain(x), y).backward()
    torch.manual_seed(1)
    F.cross_entropy(checkpointed(model, name, -segments)(x.clone()), y).backward()
    pairs = [(a.grad, b.grad) for a, b in zip(plain.parameters(), model.parameters())]
    print(json.dumps({"params": len(pairs), "bitwise_equal": sum(bool(torch.equal(a, b)) for a, b in pairs),
                      "max_abs_diff": max(float((a - b).abs().max()) for a, b in pairs),
                      "max_abs_grad": max(float(a.abs().max()) for a, _ in pairs)}))
    sys.exit(0)
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
forward = checkpointed(model, name, segments) if segments else model
times = []
for i in range(warmup + steps):
    t = time.perf_counter()
    opt.zero_grad()
    F.cross_entropy(forward(x), y).backward()
    opt.step()
    if i >= warmup:
        times.append(time.perf_counter() - t)
print(json.dumps({"step_times": times, "start_rss": start_rss}))
"""


def torch_run(model, batch, size, threads, warmup, steps, segments=0):
    proc = subprocess.Popen(["/usr/bin/python3", "-c", TORCH_WORKER, model, str(batch), str(size),
                             str(threads), str(warmup), str(steps), str(segments)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    out, err = proc.stdout.read(), proc.stderr.read()
    if status != 0:
        sys.exit(f"torch worker failed: {err}")
    r = json.loads(out.strip().splitlines()[-1])
    return statistics.median(r["step_times"]), usage.ru_maxrss * 1024 - r["start_rss"]


def split_env(spec):
    """({NAME: VALUE} of the spec's leading NAME=VALUE words, the rest of the spec)."""
    words, env = spec.split(), {}
    while words and "=" in words[0] and not words[0].startswith("-"):
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    return env, " ".join(words)


def lrc_run(plan, threads, warmup, steps, work, env=None):
    """(median step seconds, RSS growth, predicted arena, measured arena), or the error text
    of a failed run (a str)."""
    metrics = os.path.join(work, "metrics.jsonl")
    tools = (env or {}).get("LRC_BIN", os.path.join(ROOT, "build/tools"))
    cmd = [os.path.join(tools, "lrc-run"), plan, "--data", "synthetic",
           "--steps", str(warmup + steps), "--threads", str(threads), "--metrics", metrics]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, **(env or {})))
    out, err = proc.communicate()
    status = proc.returncode
    if status != 0:
        return (err.strip() or out.strip()) + f" (exit status {status})"
    records = [json.loads(l) for l in open(metrics)]
    times = [r["step_seconds"] for r in records if "step_seconds" in r][warmup:]
    final = records[-1]
    # lrc-run reports its own start and peak RSS (VmRSS at the start of main, VmHWM at the
    # end of training: --save-onnx is not used here).
    return (statistics.median(times), final["rss_peak_bytes"] - final["rss_start_bytes"],
            final["predicted_peak_bytes"], final["measured_peak_bytes"])


def gemm_rate():
    """Runs bench/gemm_rate.py; returns its max single-thread GFLOP/s."""
    out = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "gemm_rate.py"), "--json"],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])["max_gflops"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="vgg16,resnet50")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--runs", type=int, default=2, help="alternating runs of each side")
    ap.add_argument("--torch-checkpoint", type=int, default=0, metavar="K",
                    help="also time PyTorch with checkpoint_sequential over the conv part in K segments")
    ap.add_argument("--check-torch-checkpoint", action="store_true",
                    help="only compare PyTorch's parameter gradients with and without checkpoint_sequential(K) "
                         "(one step at --batch/--size; K from --torch-checkpoint, default 4) and exit")
    ap.add_argument("--lrc-plans", default="layerwise",
                    help="lrc-compile flag sets separated by ';', e.g. 'layerwise;2ps --strips 8 --cut downsample'")
    ap.add_argument("--gemm-gflops", type=float, default=None, metavar="X",
                    help="single-thread SGEMM GFLOP/s for the floor (see bench/gemm_rate.py)")
    ap.add_argument("--measure-gemm", action="store_true",
                    help="run bench/gemm_rate.py first and use its max GFLOP/s as --gemm-gflops")
    args = ap.parse_args()
    if args.check_torch_checkpoint:
        for model in args.models.split(","):
            out = subprocess.run(["/usr/bin/python3", "-c", TORCH_WORKER, model, str(args.batch), str(args.size),
                                  str(args.threads), "0", "0", str(-(args.torch_checkpoint or 4))],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                sys.exit(f"torch worker failed: {out.stderr}")
            print(model, out.stdout.strip().splitlines()[-1])
        return
    specs = [p.strip() for p in args.lrc_plans.split(";") if p.strip()]
    gflops = args.gemm_gflops
    if gflops is None and args.measure_gemm:
        gflops = gemm_rate()
    work = tempfile.mkdtemp(prefix="lrc-bench-")
    atexit.register(shutil.rmtree, work, True)  # plans of VGG-16 are 550 MB each
    rows = []   # (model, label, step, rss, predicted, measured, gmac) for lrc plans and PyTorch
    errors = []
    for model in args.models.split(","):
        onnx_path = os.path.join(work, f"{model}.onnx")
        subprocess.run(["/usr/bin/python3", "-c",
                        "import sys, torch, torchvision\n"
                        "torch.manual_seed(0)\n"
                        f"m = torchvision.models.{model}().train()\n"
                        f"torch.onnx.export(m, torch.randn(1, 3, {args.size}, {args.size}), sys.argv[1], "
                        "opset_version=13, training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False)",
                        onnx_path], check=True, stderr=subprocess.DEVNULL)
        plans = []  # [spec, path, summary]
        for i, spec in enumerate(specs):
            path = os.path.join(work, f"{model}.{i}.plan")
            env, flags = split_env(spec)
            compiler = os.path.join(env["LRC_BIN"], "lrc-compile") if "LRC_BIN" in env else None
            summary, err = compile_plan(onnx_path, args.batch, plan_flags(flags), path, compiler)
            if err:
                errors.append((model, spec, "lrc-compile", err))
                print(f"{model} [{spec}]: lrc-compile failed: {err}", file=sys.stderr)
                continue
            plans.append([spec, path, summary])
        # The layerwise work: a row plan's "vs" figure, else one extra compile.
        layerwise_gmac = next((p[2]["layerwise_gmac"] for p in plans if p[2]["layerwise_gmac"] is not None), None)
        if layerwise_gmac is None and any(p[2]["gmac"] is None for p in plans):
            summary, _ = compile_plan(onnx_path, args.batch, plan_flags("2ps --strips 2"),
                                      os.path.join(work, "work.plan"))
            layerwise_gmac = summary["layerwise_gmac"] if summary else None
            if os.path.exists(os.path.join(work, "work.plan")):
                os.remove(os.path.join(work, "work.plan"))
        for p in plans:
            if p[2]["gmac"] is None and p[2].get("strategy") in ("layerwise", None):
                p[2]["gmac"] = layerwise_gmac
        results = {p[0]: [] for p in plans}
        torch_, ckpt = [], []
        for _ in range(args.runs):
            for spec, path, _ in plans:
                if spec not in results:
                    continue
                r = lrc_run(path, args.threads, args.warmup, args.steps, work, split_env(spec)[0])
                if isinstance(r, str):
                    errors.append((model, spec, "lrc-run", r))
                    print(f"{model} [{spec}]: lrc-run failed: {r}", file=sys.stderr)
                    del results[spec]
                    continue
                results[spec].append(r)
            torch_.append(torch_run(model, args.batch, args.size, args.threads, args.warmup, args.steps))
            if args.torch_checkpoint:
                ckpt.append(torch_run(model, args.batch, args.size, args.threads, args.warmup, args.steps,
                                      args.torch_checkpoint))
        torch_t = statistics.median(r[0] for r in torch_)
        ckpt_t = statistics.median(r[0] for r in ckpt) if ckpt else None
        for spec, path, summary in plans:
            if spec not in results:
                continue
            rs = results[spec]
            rows.append((model, f"lrc {spec}", statistics.median(r[0] for r in rs), max(r[1] for r in rs),
                         rs[-1][2], rs[-1][3], summary["gmac"], torch_t, ckpt_t))
        rows.append((model, "PyTorch", torch_t, max(r[1] for r in torch_), None, None, layerwise_gmac, torch_t,
                     ckpt_t))
        if ckpt:
            rows.append((model, f"PyTorch checkpoint_sequential({args.torch_checkpoint})", ckpt_t,
                         max(r[1] for r in ckpt), None, None, None, torch_t, ckpt_t))
        for path in [p[1] for p in plans]:
            os.remove(path)

    mib = lambda b: f"{b / 2**20:.0f}"
    print(f"batch {args.batch}, {args.size}x{args.size}, {args.threads} thread(s), "
          f"{args.steps} timed steps after {args.warmup} warm-up, {args.runs} alternating runs each")
    print()
    ck = args.torch_checkpoint
    print("| model | plan | step (s) | / PyTorch |" + (f" / PyTorch ckpt({ck}) |" if ck else "") +
          " RSS growth (MiB) | lrc arena predicted (MiB) | measured | RSS over arena |")
    print("|---|---|---|---|" + ("---|" if ck else "") + "---|---|---|---|")
    for model, label, t, rss, pred, meas, gmac, torch_t, ckpt_t in rows:
        arena = (f"{mib(pred)} | {'=' if pred == meas else mib(meas)} | {100 * (rss - pred) / pred:+.1f}%"
                 if pred is not None else " | | ")
        print(f"| {model} | {label} | {t:.2f} | {t / torch_t:.2f}x |" + (f" {t / ckpt_t:.2f}x |" if ck else "") +
              f" {mib(rss)} | {arena} |")
    print()
    rate = f"{gflops:.1f} GFLOP/s single-thread SGEMM" if gflops else "no SGEMM rate given (--gemm-gflops / --measure-gemm)"
    print(f"Work (conv/gemm multiply-adds per training step) and the GEMM floor at {rate}:")
    print()
    print("| model | plan | work (GMAC/step) | achieved (GMAC/s) | achieved (GFLOP/s) |" +
          (" floor (s) | step / floor |" if gflops else ""))
    print("|---|---|---|---|---|" + ("---|---|" if gflops else ""))
    for model, label, t, rss, pred, meas, gmac, torch_t, ckpt_t in rows:
        if gmac is None:
            continue
        cells = f"| {model} | {label} | {gmac:.2f} | {gmac / t:.2f} | {2 * gmac / t:.2f} |"
        if gflops:
            floor = 2 * gmac / gflops
            cells += f" {floor:.2f} | {t / floor:.2f}x |"
        print(cells)
    for model, spec, tool, err in errors:
        print(f"\n{model} `{spec}`: {tool} failed:\n```\n{err}\n```")


if __name__ == "__main__":
    main()

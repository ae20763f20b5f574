#!/usr/bin/python3
"""Times one training step and measures peak memory of lrc and of PyTorch on the CPU, side
by side in one run: same model, batch, image size and thread count, runs alternating
(lrc, torch, lrc, torch, ...) so that machine noise hits both alike.

  /usr/bin/python3 bench/cpu_step.py --models vgg16,resnet50 --batch 4 --threads 1

Step time: the median over the timed steps (after warm-up steps) of each run, then the
median over runs. Memory: each process's peak RSS minus its RSS at its start (PyTorch:
wait4's ru_maxrss minus the RSS after its imports, before the model is built; lrc: VmHWM
minus VmRSS at the start of main, which lrc-run reports; weights, gradients and optimizer
state count on both sides), and for lrc the predicted and measured arena.
Prints a Markdown table for docs/benchmarks.md.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

TORCH_WORKER = r"""
import json, resource, sys, time
import torch, torchvision
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint_sequential
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096
name, batch, size, threads, warmup, steps, segments = sys.argv[1], *map(int, sys.argv[2:8])
torch.set_num_threads(threads)
torch.manual_seed(0)
start_rss = rss()  # after the imports, before the model: weights count, as in lrc's arena
model = getattr(torchvision.models, name)().train()
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
x = torch.randn(batch, 3, size, size)
y = torch.randint(0, 1000, (batch,))
forward = model
if segments:  # torch.utils.checkpoint over the convolutional part, in `segments` pieces
    if name.startswith("vgg"):
        body = model.features
        head = lambda t: model.classifier(torch.flatten(model.avgpool(t), 1))
    else:
        m = model
        body = torch.nn.Sequential(m.conv1, m.bn1, m.relu, m.maxpool, m.layer1, m.layer2, m.layer3, m.layer4)
        head = lambda t: m.fc(torch.flatten(m.avgpool(t), 1))
    # torch 1.13's checkpoint_sequential is the reentrant kind: the input must require a
    # gradient or the first segment's weights get none (it then also computes dL/dx).
    x.requires_grad_(True)
    forward = lambda t: head(checkpoint_sequential(body, segments, t))
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


def lrc_run(plan, threads, warmup, steps, work):
    metrics = os.path.join(work, "metrics.jsonl")
    cmd = [os.path.join(ROOT, "build/tools/lrc-run"), plan, "--data", "synthetic",
           "--steps", str(warmup + steps), "--threads", str(threads), "--metrics", metrics]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, _ = os.wait4(proc.pid, 0)
    err = proc.stderr.read()
    if status != 0:
        sys.exit(f"lrc-run failed: {err}")
    records = [json.loads(l) for l in open(metrics)]
    times = [r["step_seconds"] for r in records if "step_seconds" in r][warmup:]
    final = records[-1]
    # lrc-run reports its own start and peak RSS (VmRSS at the start of main, VmHWM at the
    # end of training: --save-onnx is not used here).
    return (statistics.median(times), final["rss_peak_bytes"] - final["rss_start_bytes"],
            final["predicted_peak_bytes"], final["measured_peak_bytes"])


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
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="lrc-bench-")
    rows = []
    for model in args.models.split(","):
        onnx_path = os.path.join(work, f"{model}.onnx")
        subprocess.run(["/usr/bin/python3", "-c",
                        "import sys, torch, torchvision\n"
                        "torch.manual_seed(0)\n"
                        f"m = torchvision.models.{model}().train()\n"
                        f"torch.onnx.export(m, torch.randn(1, 3, {args.size}, {args.size}), sys.argv[1], "
                        "opset_version=13, training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False)",
                        onnx_path], check=True, stderr=subprocess.DEVNULL)
        plan = os.path.join(work, f"{model}.plan")
        subprocess.run([os.path.join(ROOT, "build/tools/lrc-compile"), onnx_path, "--batch", str(args.batch),
                        "-o", plan], check=True, stdout=subprocess.DEVNULL)
        lrc, torch_, ckpt = [], [], []
        for _ in range(args.runs):
            lrc.append(lrc_run(plan, args.threads, args.warmup, args.steps, work))
            torch_.append(torch_run(model, args.batch, args.size, args.threads, args.warmup, args.steps))
            if args.torch_checkpoint:
                ckpt.append(torch_run(model, args.batch, args.size, args.threads, args.warmup, args.steps,
                                      args.torch_checkpoint))
        lrc_t = statistics.median(r[0] for r in lrc)
        torch_t = statistics.median(r[0] for r in torch_)
        lrc_rss = max(r[1] for r in lrc)
        torch_rss = max(r[1] for r in torch_)
        predicted, measured = lrc[-1][2], lrc[-1][3]
        rows.append((model, lrc_t, torch_t, lrc_rss, torch_rss, predicted, measured))
        if ckpt:
            print(f"{model}: PyTorch checkpoint_sequential({args.torch_checkpoint}) step "
                  f"{statistics.median(r[0] for r in ckpt):.2f} s, RSS growth "
                  f"{max(r[1] for r in ckpt) / 2**20:.0f} MiB (lrc / it: "
                  f"{lrc_t / statistics.median(r[0] for r in ckpt):.2f}x)")
    mib = lambda b: f"{b / 2**20:.0f}"
    print(f"batch {args.batch}, {args.size}x{args.size}, {args.threads} thread(s), "
          f"{args.steps} timed steps after {args.warmup} warm-up, {args.runs} alternating runs each")
    print("| model | lrc step (s) | PyTorch step (s) | lrc / PyTorch | lrc RSS growth (MiB) | PyTorch RSS growth (MiB) "
          "| lrc arena predicted (MiB) | measured | RSS over arena |")
    print("|---|---|---|---|---|---|---|---|---|")
    for model, lt, tt, lr, tr, pred, meas in rows:
        print(f"| {model} | {lt:.2f} | {tt:.2f} | {lt / tt:.2f}x | {mib(lr)} | {mib(tr)} | {mib(pred)} | "
              f"{'=' if pred == meas else mib(meas)} | {100 * (lr - pred) / pred:+.1f}% |")


if __name__ == "__main__":
    main()

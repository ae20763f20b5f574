#!/usr/bin/python3
"""lrc-run's learning-rate schedules against torch.optim.lr_scheduler (torch 1.13).

For each case: lrc-run trains a small plan for T steps with --lr-schedule/--warmup-steps and
--metrics; the "lr" of every step's metrics line must equal the lr torch's scheduler gives
the optimizer for that step, where scheduler.step() follows every optimizer.step() (lrc
steps its schedules per training step). The torch side is built from torch's own classes as
runtime/LrSchedule.h documents them: StepLR, CosineAnnealingLR(T_max = T - warm-up), and a
warm-up of N steps as LinearLR(start_factor=1/(N+1), total_iters=N) chained with
SequentialLR(milestones=[N]). Relative tolerance 1e-8 (--metrics prints 9 digits).
That the kernels train with these lrs is test/e2e/parity.py --schedule's part.

Usage: lr_schedule.py --bin BUILD/tools --work DIR
"""
import argparse
import json
import os
import subprocess
import sys
import warnings

import torch
from torch.optim import lr_scheduler

BASE_LR = 0.1
STEPS = 12
REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")

# (lrc-run flags, a function of (optimizer, steps) making torch's scheduler)
def warmup_then(warmup, main=None):
    def make(opt, steps):
        linear = lr_scheduler.LinearLR(opt, start_factor=1 / (warmup + 1), end_factor=1.0, total_iters=warmup)
        return linear if main is None else lr_scheduler.SequentialLR(opt, [linear, main(opt, steps - warmup)],
                                                                      milestones=[warmup])
    return make


CASES = [
    (["--lr-schedule", "constant"], lambda opt, steps: None),
    (["--warmup-steps", "3"], warmup_then(3)),
    (["--lr-schedule", "step", "--lr-step-size", "4", "--lr-gamma", "0.5"],
     lambda opt, steps: lr_scheduler.StepLR(opt, step_size=4, gamma=0.5)),
    (["--lr-schedule", "step", "--lr-step-size", "3", "--warmup-steps", "2"],  # gamma: torch's default 0.1
     warmup_then(2, lambda opt, t: lr_scheduler.StepLR(opt, step_size=3))),
    (["--lr-schedule", "cosine"], lambda opt, steps: lr_scheduler.CosineAnnealingLR(opt, T_max=steps)),
    (["--lr-schedule", "cosine", "--lr-min", "0.01", "--warmup-steps", "4"],
     warmup_then(4, lambda opt, t: lr_scheduler.CosineAnnealingLR(opt, T_max=t, eta_min=0.01))),
    (["--lr-schedule", "cosine", "--warmup-steps", "11"],  # one cosine step: its base lr
     warmup_then(11, lambda opt, t: lr_scheduler.CosineAnnealingLR(opt, T_max=t))),
]


def torch_lrs(make_scheduler, steps):
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=BASE_LR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SequentialLR's own step(0) call warns about the epoch argument
        scheduler = make_scheduler(opt, steps)
        lrs = []
        for _ in range(steps):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            if scheduler:
                scheduler.step()
    return lrs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    plan = os.path.join(args.work, "fashion.plan")
    subprocess.run([os.path.join(args.bin, "lrc-compile"), os.path.join(REPO, "examples", "fashion_cnn.onnx"),
                    "--batch", "2", "--strategy", "layerwise", "-o", plan], check=True, stdout=subprocess.DEVNULL)
    failures = []
    for flags, make in CASES:
        metrics = os.path.join(args.work, "metrics.jsonl")
        cmd = [os.path.join(args.bin, "lrc-run"), plan, "--data", "synthetic", "--steps", str(STEPS), "--lr",
               str(BASE_LR), "--threads", "1", "--metrics", metrics] + flags
        result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if result.returncode != 0:
            failures.append(f"{' '.join(flags)}: lrc-run failed:\n{result.stdout}")
            continue
        with open(metrics) as f:
            got = [json.loads(line)["lr"] for line in f if '"loss"' in line]
        want = torch_lrs(make, STEPS)
        worst = max(abs(g - w) / max(abs(w), 1e-30) for g, w in zip(got, want)) if len(got) == len(want) else 1.0
        print(f"{' '.join(flags):60s} rel max err {worst:.1e}  torch {['%.6g' % w for w in want]}")
        if len(got) != len(want) or worst > 1e-8:
            failures.append(f"{' '.join(flags)}: lrc-run {got}\n  torch {want}")
    print("\n".join(["MISMATCH:"] + failures) if failures else f"{len(CASES)} schedules match torch")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

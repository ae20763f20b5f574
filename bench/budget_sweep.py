#!/usr/bin/python3
"""Budget sweep of lrc-compile's plan search (issue 5): for memory budgets from the smallest
peak lrc can reach for a model and batch to above the layerwise plan's peak, compile with
`--memory-budget`, train one step of the chosen plan with lrc-run, and check that

  - the chosen plan's measured arena peak is at or under the budget (and equals the
    predicted peak),
  - the predicted step time never increases as the budget grows.

A budget below the smallest peak must be refused with an error naming that peak. Also
prints each chosen plan's measured step time next to the predicted one (the time model's
error; that part is a measurement, not a check).

  /usr/bin/python3 bench/budget_sweep.py --model build/test-models/resnet50_train_op13.onnx --batch 8 --bn frozen

Exit status 0 when every check holds. Prints a Markdown table.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run(cmd, check=True):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if check and p.returncode != 0:
        sys.exit(f"FAILED: {' '.join(cmd)}\n{p.stdout}{p.stderr}")
    return p


def compile_plan(args, extra, out):
    cmd = [os.path.join(args.bin, "lrc-compile"), args.model, "--batch", str(args.batch), "-o", out] + extra
    if args.bn:
        cmd += ["--bn", args.bn]
    return run(cmd, check=False)


def summary_of(text):
    """(strategy label, predicted peak bytes, predicted step ms or None) from lrc-compile's summary."""
    m = re.search(r"strategy (\S+), \d+ training steps, predicted peak [\d.]+ MiB \((\d+) bytes\)", text)
    if not m:
        sys.exit("cannot read the summary:\n" + text)
    chosen = re.search(r"chosen by --strategy auto: (.*?) \(", text)
    label = chosen.group(1) if chosen else m.group(1)
    t = re.search(r"predicted step ([\d.]+) ms", text)
    return label, int(m.group(2)), float(t.group(1)) if t else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--bn", default="")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build/tools"))
    ap.add_argument("--budgets", type=int, default=5, help="budgets from the smallest peak to layerwise's")
    ap.add_argument("--steps", type=int, default=1)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="lrc-sweep-")
    try:
        sweep(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # plans of VGG-16 are 550 MB each


def sweep(args, work):
    failures = []

    # The smallest reachable peak, from the error of an impossible budget.
    p = compile_plan(args, ["--memory-budget", "1"], os.path.join(work, "none.bin"))
    m = re.search(r"the smallest predicted peak for this model and batch is [\d.]+ MiB \((\d+) bytes\), with --strategy (.*)$",
                  p.stderr.strip())
    if p.returncode == 0 or not m or os.path.exists(os.path.join(work, "none.bin")):
        sys.exit("an impossible budget was not refused as expected:\n" + p.stdout + p.stderr)
    smallest = int(m.group(1))
    p = compile_plan(args, ["--strategy", "layerwise"], os.path.join(work, "lw.bin"))
    _, layerwise, _ = summary_of(p.stdout)
    os.remove(os.path.join(work, "lw.bin"))
    below = compile_plan(args, ["--memory-budget", str(smallest - 1)], os.path.join(work, "below.bin"))
    if below.returncode == 0:
        failures.append(f"a budget of {smallest - 1} bytes (one below the smallest peak) was accepted")

    n = max(args.budgets, 2)
    budgets = sorted({smallest + (layerwise - smallest) * k // (n - 1) for k in range(n)} | {layerwise * 2})
    rows = []
    last_ms = None
    for b in budgets:
        plan = os.path.join(work, f"b{b}.bin")
        p = compile_plan(args, ["--memory-budget", str(b)], plan)
        if p.returncode != 0:
            failures.append(f"budget {b}: compile failed: {p.stderr.strip()}")
            continue
        label, predicted, ms = summary_of(p.stdout)
        metrics = os.path.join(work, f"b{b}.jsonl")
        run([os.path.join(args.bin, "lrc-run"), plan, "--data", "synthetic", "--steps", str(args.steps + 1),
             "--threads", "1", "--metrics", metrics])
        os.remove(plan)
        lines = [json.loads(l) for l in open(metrics)]
        final = lines[-1]
        measured = final["measured_peak_bytes"]
        step_s = [l["step_seconds"] for l in lines if "step_seconds" in l][1:]  # after one warm-up step
        measured_ms = 1e3 * sum(step_s) / len(step_s) if step_s else float("nan")
        if measured > b:
            failures.append(f"budget {b}: measured peak {measured} is over it")
        if measured != predicted:
            failures.append(f"budget {b}: measured peak {measured} != predicted {predicted}")
        if ms is not None and last_ms is not None and ms > last_ms + 1e-9:
            failures.append(f"budget {b}: predicted step {ms} ms is above the previous budget's {last_ms} ms")
        if ms is not None:
            last_ms = ms
        rows.append((b, label, predicted, measured, ms, measured_ms))

    print(f"model {os.path.basename(args.model)}, batch {args.batch}{', --bn ' + args.bn if args.bn else ''}; "
          f"smallest peak {smallest} bytes ({m.group(2)}), layerwise {layerwise} bytes")
    print()
    print("| budget (MiB) | chosen | predicted peak (MiB) | measured peak | predicted step (ms) | measured step (ms) | time model error |")
    print("|---|---|---|---|---|---|---|")
    for b, label, predicted, measured, ms, mms in rows:
        err = f"{100 * (ms - mms) / mms:+.0f}%" if ms is not None and mms == mms else "-"
        print(f"| {b / 2**20:.1f} | {label} | {predicted / 2**20:.1f} | {'=' if measured == predicted else measured} "
              f"| {ms if ms is not None else '-'} | {mms:.1f} | {err} |")
    if failures:
        print("\nFAILURES:")
        for f in failures:
            print("  " + f)
        sys.exit(1)
    print(f"\n{len(rows)} budgets: every measured peak at or under its budget and equal to the prediction; "
          "predicted step time never increases with the budget")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Predicted training-step memory of the torchvision zoo (test/models/zoo.py), layerwise
against the smallest plan lrc's search reaches with exact BatchNorm (issue 13's memory table).

Each model is exported in training mode (opset 13, random weights, 10 classes, dropout off as
in the parity tests) at 224x224 into --cache (reused when present), then compiled
  1. `--strategy layerwise`, and
  2. with `--memory-budget 1`: the search refuses the budget and names the flags of the least
     peak it reaches (docs/plan-search.md); those flags are compiled.
Nothing is run: the arena is exact (measured peak = predicted peak in every plan the tests
run). Per model: each plan's peak, its largest activation part (the most bytes of kept
activations, activation gradients and workspace live at any one step of the training
program: lrc-compile's "largest activation part" line, compiler::largestActivationPart;
the categories left out are bench/row_memory.py's fixed ones: parameters, parameter
gradients, optimizer state, BatchNorm state, inputs), the ratio of the two, the same ratio
by the earlier metric (the activation part at the step of the largest live total, the
summary's "at the peak:" line), and the work ratio (conv/gemm multiply-adds, recompute
included). Prints a Markdown table for docs/benchmarks.md.

  /usr/bin/python3 bench/zoo_memory.py --batch 8 [--models a,b] [--cache /tmp/lrc-zoo]
"""
import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "test", "models"))
sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))
from row_memory import compile_plan, is_fixed  # noqa: E402
import zoo  # noqa: E402

SMALLEST_RE = re.compile(r"with (--strategy .*?)(?: --batch \d+.*)?$")


def export(name, shape, path):
    import torch
    from parity import export_training_onnx
    torch.manual_seed(0)
    export_training_onnx(zoo.build(name).train(), torch.randn(*shape), path, 13)


def activation_part(summary):
    """The earlier metric: the non-fixed categories at the step of the largest live total (MiB)."""
    return sum(v for n, v in summary["categories"] if not is_fixed(n))


def largest_part(summary):
    """The largest activation part over all steps (MiB), exact from lrc-compile's summary."""
    return summary["largest_bytes"] / 2**20


def layerwise_and_smallest(name, onnx, batch, extra, plan):
    """Compiles `onnx` layerwise and as the smallest plan the search names for --memory-budget 1;
    returns (name, layerwise summary, smallest summary, its flags, error) (None where failed)."""
    lw, err = compile_plan(onnx, batch, ["--strategy", "layerwise"] + extra, plan)
    if err:
        print(f"{name}: {err.splitlines()[-1]}", file=sys.stderr, flush=True)
        return (name, None, None, None, err.splitlines()[-1])
    refused = subprocess.run([os.path.join(ROOT, "build/tools/lrc-compile"), onnx, "--batch",
                              str(batch), "--memory-budget", "1", *extra, "-o", plan],
                             capture_output=True, text=True)
    m = SMALLEST_RE.search(refused.stderr.strip())
    if refused.returncode == 0 or not m:
        return (name, lw, None, None, "no smallest plan named: " + refused.stderr.strip())
    flags = shlex.split(m.group(1))
    small, err = compile_plan(onnx, batch, flags + extra, plan)
    print(f"{name}: layerwise {lw['peak_mib']} MiB, smallest {small and small['peak_mib']} MiB"
          f" ({' '.join(flags)})", file=sys.stderr, flush=True)
    return (name, lw, small, " ".join(flags), err)


def table_rows(names, cache, size, batch, extra, export_to):
    """layerwise_and_smallest's row of each model, its ONNX file `cache/NAME_bBATCH_SIZE.onnx`
    written by export_to(name, path) unless it is there. Exported at the table's batch: a
    traced reshape keeps the batch it was traced with (ShuffleNet's channel shuffle), so an
    export at batch 1 does not compile at --batch 8."""
    os.makedirs(cache, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="lrc-mem-") as work:
        plan = os.path.join(work, "plan.bin")
        for name in names:
            onnx = os.path.join(cache, f"{name}_b{batch}_{size}.onnx")
            if not os.path.exists(onnx):
                export_to(name, onnx)
            rows.append(layerwise_and_smallest(name, onnx, batch, extra, plan))
    return rows


def print_table(script, batch, size, rows):
    """The Markdown table of layerwise_and_smallest's rows, under the command that made it."""
    print(f"```\n/usr/bin/python3 {script} " + " ".join(shlex.quote(a) for a in sys.argv[1:]) + "\n```\n")
    print(f"batch {batch}, {size}x{size}; predicted arena (MiB). Activation part: the largest bytes of kept "
          "activations + activation gradients + workspace live at any one step of the training program "
          "(lrc-compile's \"largest activation part\"; parameters, parameter gradients, optimizer state, "
          "BatchNorm state and inputs left out); at-peak ratio: the earlier metric, the same categories at the "
          "step of the largest live total\n")
    print("| model | layerwise peak / activation part | smallest plan | its peak / activation part (at step) "
          "| activation ratio | at-peak ratio (earlier metric) | work vs layerwise |")
    print("|---|---|---|---|---|---|---|")
    for name, lw, small, flags, err in rows:
        if lw is None or small is None:
            print(f"| {name} | " + (f"{lw['peak_mib']:.1f} / {largest_part(lw):.1f}" if lw else "") +
                  f" | failed: {err} | | | | |")
            continue
        a, b = largest_part(lw), largest_part(small)
        old = activation_part(small) / activation_part(lw) if activation_part(lw) else float("nan")
        work = f"{small['work_ratio']:.2f}x" if small["work_ratio"] is not None else "1.00x"
        at = f" ({small['largest_step']}: {small['largest_at']})" if small["largest_at"] else ""
        print(f"| {name} | {lw['peak_mib']:.1f} / {a:.1f} | `{flags}` | {small['peak_mib']:.1f} / {b:.1f}{at} "
              f"| {b / a:.2f} | {old:.2f} | {work} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(zoo.ZOO))
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "lrc-zoo"))
    ap.add_argument("--extra", default="", help="extra lrc-compile flags for both plans")
    args = ap.parse_args()
    rows = table_rows(args.models.split(","), args.cache, args.size, args.batch, args.extra.split(),
                      lambda name, onnx: export(name, (args.batch, 3, args.size, args.size), onnx))
    print_table("bench/zoo_memory.py", args.batch, args.size, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Predicted training-step memory of lrc's row plans against the layerwise plan: compiles
each model at one batch and 224x224 as layerwise, and as 2PS and OverL at 2, 4, 8 and 16
strips with segment cuts at downsampling layers, and reads lrc-compile's summary (nothing
is run: the arena is exact, measured peak = predicted peak, in every plan the tests run).

  /usr/bin/python3 bench/row_memory.py --models vgg16,resnet50 --batch 32

Per plan: the predicted peak; the summary's "at the peak:" categories (whatever names
lrc-compile prints, as `<name> <number> MiB` pairs); "activations + workspace", the sum of
every category except the model's fixed memory (parameters, their gradients, optimizer
state, BatchNorm running statistics, the input batch), which is what a row plan can
shrink, and that sum as a percentage of the layerwise plan's; and the training step's
multiply-adds relative to layerwise (recompute and halo rows included), from the "row
plan:" line. --no-cut-too also compiles every row plan without cuts (--cut none). Compiles
run one after another. Prints a Markdown table for docs/benchmarks.md.

The ONNX files are build/test-models/{model}_train_op13.onnx (torchvision, training mode,
224x224); --batch sets the batch. bench/cpu_step.py imports compile_plan/parse_summary.
"""
import argparse
import atexit
import os
import shutil
import re
import shlex
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
COMPILE = os.path.join(ROOT, "build/tools/lrc-compile")

# Categories of the "at the peak:" line that a row plan does not change (matched on the
# lower-cased name): everything else counts as "activations + workspace".
FIXED = ("parameters", "gradients", "parameter gradients", "optimizer state", "batchnorm state",
         "inputs", "input", "weights")

PEAK_RE = re.compile(r"predicted peak ([\d.]+) MiB \((\d+) bytes\)")
PAIR_RE = re.compile(r"^\s*(.*?)\s+(-?[\d.]+)\s*MiB\s*$")
WORK_RE = re.compile(r"work ([\d.]+)x layerwise \(([\d.]+) vs ([\d.]+) GMAC per step\)")
GMAC_RE = re.compile(r"([\d.]+) GMAC per step")
# lrc-compile's "largest activation part (...): X MiB (N bytes) at step S (kernel origin): ..."
LARGEST_RE = re.compile(r"largest activation part \(.*?\): ([\d.]+) MiB \((\d+) bytes\) at step (\d+)(?: \((.*?)\))?:")


def parse_summary(text):
    """lrc-compile's summary -> {peak_mib, peak_bytes, categories: [(name, MiB)], work_ratio,
    gmac, layerwise_gmac, row_line, largest_bytes, largest_step, largest_at}. work_ratio/gmac
    are None where the summary has no work (layerwise plans print no row plan line);
    largest_*: the largest activation part over all steps, its step and that step's op."""
    r = {"peak_mib": None, "peak_bytes": None, "categories": [], "work_ratio": None, "gmac": None,
         "layerwise_gmac": None, "row_line": None, "strategy": None,
         "largest_bytes": None, "largest_step": None, "largest_at": None}
    for line in text.splitlines():
        m = PEAK_RE.search(line)
        if m:
            r["peak_mib"], r["peak_bytes"] = float(m.group(1)), int(m.group(2))
            s = re.search(r"strategy (\S+?),", line)
            r["strategy"] = s.group(1) if s else None
        stripped = line.strip()
        if stripped.startswith("at the peak:"):
            for item in stripped[len("at the peak:"):].split(","):
                p = PAIR_RE.match(item)
                if p:
                    r["categories"].append((p.group(1), float(p.group(2))))
        la = LARGEST_RE.search(stripped)
        if la:
            r["largest_bytes"], r["largest_step"], r["largest_at"] = int(la.group(2)), int(la.group(3)), la.group(4)
        if stripped.startswith("row plan:"):
            r["row_line"] = stripped
        w = WORK_RE.search(line)
        if w:
            r["work_ratio"], r["gmac"], r["layerwise_gmac"] = float(w.group(1)), float(w.group(2)), float(w.group(3))
        elif r["gmac"] is None and "GMAC per step" in line:
            g = GMAC_RE.search(line)
            if g:
                r["gmac"] = float(g.group(1))
    return r


def is_fixed(name):
    return name.strip().lower() in FIXED


def plan_flags(spec):
    """'2ps --strips 8 --cut downsample' -> ['--strategy', '2ps', '--strips', '8', ...]; a
    spec that starts with '-' is taken as raw flags."""
    words = spec.split()
    if words and not words[0].startswith("-"):
        words = ["--strategy", words[0]] + words[1:]
    return words


def compile_plan(onnx, batch, flags, out, compiler=None):
    """Runs lrc-compile (this tree's, or `compiler`); returns (parsed summary, None) or (None, error text)."""
    cmd = [compiler or COMPILE, onnx, "--batch", str(batch), *flags, "-o", out]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        return None, (p.stderr.strip() or p.stdout.strip() or f"exit status {p.returncode}")
    return parse_summary(p.stdout + "\n" + p.stderr), None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="vgg16,resnet50")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--strategies", default="2ps,overl")
    ap.add_argument("--strips", default="2,4,8,16")
    ap.add_argument("--no-cut-too", action="store_true", help="also compile every row plan with --cut none")
    ap.add_argument("--extra", default="", help="extra lrc-compile flags for every plan (e.g. '--bn frozen')")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="lrc-rowmem-")
    atexit.register(shutil.rmtree, work, True)  # plans of VGG-16 are 550 MB each
    plan_path = os.path.join(work, "plan.bin")
    extra = args.extra.split()
    specs = ["layerwise"]
    cuts = ["downsample"] + (["none"] if args.no_cut_too else [])
    for cut in cuts:
        for strategy in args.strategies.split(","):
            for strips in args.strips.split(","):
                specs.append(f"{strategy} --strips {strips} --cut {cut}")

    rows, failures, categories = [], [], []
    stamp = os.stat(COMPILE).st_mtime  # a relink mid-run would mix two compilers in one table
    for model in args.models.split(","):
        onnx = os.path.join(ROOT, f"build/test-models/{model}_train_op13.onnx")
        base = base_nf = None  # layerwise's activations + workspace, and its peak less fixed memory
        for spec in specs:
            s, err = compile_plan(onnx, args.batch, plan_flags(spec) + extra, plan_path)
            print(f"{model} {spec}: " + (f"FAILED: {err}" if err else f"{s['peak_mib']} MiB"),
                  file=sys.stderr, flush=True)
            if err:
                failures.append((model, spec, err))
                rows.append((model, spec, None))
                continue
            for name, _ in s["categories"]:
                if name not in categories:
                    categories.append(name)
            act = sum(v for n, v in s["categories"] if not is_fixed(n))
            s["act"] = act
            if spec == "layerwise":
                base = act
                s["work_ratio"] = 1.0
            s["act_pct"] = 100 * act / base if base else None
            # The older summary's "gradients" holds parameter and activation gradients alike:
            # there, also show the peak less the memory that is fixed whatever the plan.
            s["nonfixed"] = s["peak_mib"] - sum(v for n, v in s["categories"]
                                                if is_fixed(n) and n.strip().lower() != "gradients")
            if spec == "layerwise":
                base_nf = s["nonfixed"]
            s["nonfixed_pct"] = 100 * s["nonfixed"] / base_nf if base_nf else None
            listed = sum(v for _, v in s["categories"])
            s["gap"] = s["peak_mib"] - listed
            # Each category is rounded to 0.1 MiB: beyond that, the peak holds bytes no category names.
            s["mismatch"] = abs(s["gap"]) > 0.05 * (len(s["categories"]) + 1)
            rows.append((model, spec, s))
    try:
        os.remove(plan_path)
        os.rmdir(work)
    except OSError:
        pass

    relinked = os.stat(COMPILE).st_mtime != stamp
    summed = [c for c in categories if not is_fixed(c)]
    mixed = any(c.strip().lower() == "gradients" for c in categories)
    extra_hdr = " | peak - fixed | % of layerwise" if mixed else ""
    gap = any(s is not None and s["mismatch"] for _, _, s in rows)
    gap_hdr = " | peak - categories" if gap else ""
    print("```\n/usr/bin/python3 bench/row_memory.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]) + "\n```")
    print()
    print(f"batch {args.batch}, 224x224, lrc-compile {' '.join(extra)}".rstrip() + "; predicted arena, MiB")
    if relinked:
        print("\nWARNING: build/tools/lrc-compile changed during this run: the rows may come from two builds.")
    print()
    print("| model | plan | predicted peak (MiB) | " + " | ".join(categories) + gap_hdr +
          " | activations + workspace | % of layerwise" + extra_hdr + " | work vs layerwise |")
    print("|---|---|---|" + "---|" * (len(categories) + gap) + "---|---|" + "---|---|" * mixed + "---|")
    for model, spec, s in rows:
        if s is None:
            print(f"| {model} | {spec} | failed |" + " |" * (len(categories) + gap) + " | |" + " | |" * mixed + " |")
            continue
        vals = dict(s["categories"])
        cells = [f"{vals[c]:.1f}" if c in vals else "" for c in categories]
        pct = f"{s['act_pct']:.1f}%" if s["act_pct"] is not None else ""
        ratio = f"{s['work_ratio']:.3f}x" if s["work_ratio"] is not None else ""
        peak = f"{s['peak_mib']:.1f}"
        if gap:
            cells.append(f"{s['gap']:.1f}")
        nf = (f" | {s['nonfixed']:.1f} | " + (f"{s['nonfixed_pct']:.1f}%" if s["nonfixed_pct"] is not None else "")
              if mixed else "")
        print(f"| {model} | {spec} | {peak} | " + " | ".join(cells) + f" | {s['act']:.1f} | {pct}{nf} | {ratio} |")
    print()
    print("\"activations + workspace\" = " + (" + ".join(summed) if summed else "(no category)") +
          "; not summed: " + ", ".join(c for c in categories if is_fixed(c)) + ".")
    if mixed:
        print("This lrc-compile's \"gradients\" holds parameter and activation gradients together, so "
              "\"activations + workspace\" leaves activation gradients out; \"peak - fixed\" is the "
              "predicted peak less " + ", ".join(c for c in categories if is_fixed(c) and c.strip().lower() != "gradients")
              + " (gradients kept in).")
    if gap:
        print("\"peak - categories\": the predicted peak (the arena's size) less the sum of the categories "
              "(the bytes live at the step where most are): beyond rounding, the placement's gaps and "
              "alignment" + ("; \"peak - fixed\" includes them." if mixed else "."))
    for model, spec, err in failures:
        print(f"\n{model} `{spec}` failed to compile:\n```\n{err}\n```")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Calibrates the cost model's per-kernel constants of a backend (compiler/CostModel: issue
5; the CPU's by default, --device cuda for a GPU's): runs a few training plans with lrc-run --profile, counts every step's work unit from the plan
text, fits per kernel name seconds = a * units + b * calls, and checks the fitted model on
whole plans.

  /usr/bin/python3 bench/calibrate.py --threads 1 --batch 2 --steps 3
  /usr/bin/python3 bench/calibrate.py --from /tmp/lrc-calib      # refit saved profiles only
  python3 bench/calibrate.py --device cuda --batch 32 --bin gpu-bundle/bin   # a GPU's constants
                                                                 # (scripts/gpu-check.sh --run does this)

Plans (--plans, ';'-separated, each `MODEL: lrc-compile flags`, MODEL a name or an .onnx
path; a flag set that starts with a word is `--strategy WORD ...`; default below): VGG-16 and ResNet-50 from
build/test-models/{model}_train_op13.onnx at 224x224 (VGG-16 imports only at 224; its
classifier is fixed) and --batch (default 2), layerwise and row plans (2PS and OverL, 4
strips, cuts at downsampling layers; ResNet-50's row plans with --bn frozen, since exact
BatchNorm ends every pipeline after one convolution, plus its layerwise plan with both
BatchNorm policies). Each plan: `lrc-compile --emit plan` (the text: every buffer's shape,
bands included, and every train step), then `lrc-run PLAN --data synthetic --steps S
--threads T --profile P.json`: kernel wall time per plan step, summed over the steps after
the first (warm-up). Plans run one after another; --save DIR keeps the plan texts and
profiles, --from DIR refits them without running anything.

Work unit of a train step (the plan's buffers, band shapes as they are; scratch buffers do
not count):
- conv2d: multiply-adds over the rows it computes, N * rows * OW * Co * Ci/g * kh * kw
  (the result's elements times the weight's elements per output channel);
- conv2d_grad_input, conv2d_grad_weight: the same over the rows of dy they propagate (the
  `rows=[a,b]` attribute, else all of dy's rows): N * rows * OW(dy) * Co * Ci/g * kh * kw;
- gemm, matmul: M * N * K;
- every other kernel: the floats it reads plus writes (element counts of its operands and
  results; in-place kernels like sgd_update count their operands only).

Fit: per kernel name, least squares over every step of every plan of the per-step seconds
(profile seconds / steps timed) against (units, 1): a >= 0 seconds per unit, b >= 0
seconds per call (where the unconstrained fit has a negative constant, the better of the
two one-constant fits; when all of a kernel's steps have the same units, b = 0). A
kernel's fit error is sum |predicted - measured| / sum measured over its steps (the
fraction of its time mispredicted step by step; the totals match by construction).
Whole-plan check: predicted step time (sum over the train steps of a * units + b) against
the measured one (the profile's wall_seconds / steps_timed: the whole trainStep, copies of
the batch included) and against the sum of the kernels' times; "held out" is the
prediction with constants fitted to the other plans only (how well the constants carry to
a plan they have not seen).

Prints Markdown: the plans, the per-kernel table, the C++ initializer list for
compiler/CostModel.cpp (`{"conv2d", {a, b}},`; matmul gets gemm's constants when the plans
have none; the fallback line fits every memory-bound kernel together), BatchNorm's
constants fitted apart per mode (its `training` attribute: exact BatchNorm's batch
statistics cost more per float than frozen BatchNorm's affine map), the whole-plan table,
and each row plan's time relative to the layerwise plan of the same model and other flags,
measured and predicted (the ratios the search ranks plans by).

--check PROFILE.json PLAN.txt: checks one profile against its plan text (lit test
test/lit/lrc-run/profile.test): keys, every train step once in order with its kernel,
calls = steps x steps timed, the kernels' seconds = the steps' <= wall_seconds, and a work
unit for every step; prints `profile ok: N train steps, T timed`.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

DEFAULT_PLANS = ";".join([
    "vgg16: layerwise",
    "vgg16: 2ps --strips 4 --cut downsample",
    "vgg16: overl --strips 4 --cut downsample",
    "resnet50: layerwise",
    "resnet50: layerwise --bn frozen",
    "resnet50: 2ps --strips 4 --cut downsample --bn frozen",
    "resnet50: overl --strips 4 --cut downsample --bn frozen",
])

MAC_KERNELS = ("conv2d", "conv2d_grad_input", "conv2d_grad_weight", "gemm", "matmul")

# ---- the plan text (runtime/plan/PlanText.cpp) ----

BUFFER_RE = re.compile(r"^\s+#(\d+) (\S+) : (f32|i64)\[([\d,]*)\]")
STEP_RE = re.compile(r"^\s+(?:(#\d+(?:, #\d+)*) = )?(\w+)\(([^)]*)\)(?: \{(.*)\})?(?: scratch #(\d+))?$")
ATTR_RE = re.compile(r"(\w+)=(\[[^\]]*\]|[^,\s]+)")


def parse_attr(text):
    if text.startswith("["):
        inner = text[1:-1]
        return [float(v) if any(c in v for c in ".e") else int(v) for v in inner.split(",") if v]
    try:
        return int(text)
    except ValueError:
        return float(text)


def parse_plan_text(text):
    """`lrc-compile --emit plan` -> (buffers {index: shape}, train steps [{kernel, outputs,
    inputs, attrs, origin}])."""
    buffers, steps = {}, []
    section = None
    image = None
    for line in text.splitlines():
        if line.startswith("io image=#"):
            image = int(line.split()[1][len("image=#"):])
        if line.startswith("buffers ("):
            section = "buffers"
            continue
        if line.startswith("train ("):
            section = "train"
            continue
        if line and not line.startswith(" "):
            section = None
            continue
        if section == "buffers":
            m = BUFFER_RE.match(line)
            if m:
                buffers[int(m.group(1))] = [int(d) for d in m.group(4).split(",") if d]
        elif section == "train":
            body, _, origin = line.partition("  // ")
            m = STEP_RE.match(body)
            if not m:
                raise ValueError(f"cannot read the plan step: {line!r}")
            refs = lambda s: [int(r.strip()[1:]) for r in s.split(",") if r.strip()] if s else []  # noqa: E731
            attrs = {k: parse_attr(v) for k, v in ATTR_RE.findall(m.group(4) or "")}
            outputs, inputs = refs(m.group(1)), refs(m.group(3))
            if attrs.get("accumulate") == 1 and inputs and not outputs:
                # The accumulating form (docs/training.md): its last operand is what it computes.
                outputs, inputs = inputs[-1:], inputs[:-1]
            steps.append({"kernel": m.group(2), "outputs": outputs, "inputs": inputs,
                          "attrs": attrs, "origin": origin})
    if not steps:
        raise ValueError("no train program in the plan text")
    if image is not None and image in buffers:
        buffers["image"] = buffers[image]
    return buffers, steps


def elements(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def work_units(step, buffers):
    """The step's work unit (see the docstring)."""
    k, ins, outs, attrs = step["kernel"], step["inputs"], step["outputs"], step["attrs"]
    shape = lambda i: buffers[i]  # noqa: E731

    def dy_rows(dy):
        rows = attrs.get("rows")
        return rows[1] - rows[0] if isinstance(rows, list) and len(rows) == 2 else dy[2]

    if k == "conv2d":
        y, w = shape(outs[0]), shape(ins[1])
        return elements(y) * elements(w[1:])
    if k == "conv2d_grad_input":
        dy, w = shape(ins[0]), shape(ins[1])
        return dy[0] * dy_rows(dy) * dy[3] * elements(w)
    if k == "conv2d_grad_weight":
        dy, dw = shape(ins[0]), shape(outs[0])
        return dy[0] * dy_rows(dy) * dy[3] * elements(dw)
    if k in ("gemm", "matmul"):
        a, y = shape(ins[0]), shape(outs[0])
        trans_a = k == "gemm" and attrs.get("transA", 0) != 0
        return elements(y) * (a[-2] if trans_a else a[-1])
    return sum(elements(shape(i)) for i in ins) + sum(elements(shape(o)) for o in outs)


# ---- profiles ----

def check_profile(profile, steps):
    """Raises ValueError unless `profile` (lrc-run --profile's JSON) covers `steps`."""
    for key in ("steps_timed", "warmup_steps", "wall_seconds", "kernels", "per_step"):
        if key not in profile:
            raise ValueError(f"no '{key}' in the profile")
    n, per_step = profile["steps_timed"], profile["per_step"]
    if len(per_step) != len(steps):
        raise ValueError(f"{len(per_step)} profiled steps, the plan's train program has {len(steps)}")
    counts = {}
    for i, (p, s) in enumerate(zip(per_step, steps)):
        if p["index"] != i or p["kernel"] != s["kernel"]:
            raise ValueError(f"profiled step {p['index']} ({p['kernel']}) is not train step {i} ({s['kernel']})")
        if not p["seconds"] >= 0:
            raise ValueError(f"step {i}: seconds {p['seconds']}")
        counts[s["kernel"]] = counts.get(s["kernel"], 0) + 1
    if set(profile["kernels"]) != set(counts):
        raise ValueError(f"kernels {sorted(profile['kernels'])}, the plan has {sorted(counts)}")
    for k, c in counts.items():
        if profile["kernels"][k]["calls"] != c * n:
            raise ValueError(f"{k}: {profile['kernels'][k]['calls']} calls, expected {c} x {n}")
    total = sum(k["seconds"] for k in profile["kernels"].values())
    steps_total = sum(p["seconds"] for p in per_step)
    if abs(total - steps_total) > 1e-6 * max(1.0, total):
        raise ValueError(f"the kernels' seconds ({total}) differ from the steps' ({steps_total})")
    if total > profile["wall_seconds"] * (1 + 1e-9):
        raise ValueError(f"the kernels' seconds ({total}) exceed the steps' wall time ({profile['wall_seconds']})")


def load_run(plan_txt, profile_json):
    with open(plan_txt) as f:
        buffers, steps = parse_plan_text(f.read())
    with open(profile_json) as f:
        profile = json.load(f)
    check_profile(profile, steps)
    n = profile["steps_timed"]
    if n < 1:
        raise ValueError(f"{profile_json}: no step timed (give --steps 2 or more)")
    points = [(s["kernel"], float(work_units(s, buffers)), p["seconds"] / n)
              for s, p in zip(steps, profile["per_step"])]
    # BatchNorm's mode (training=1: batch statistics; 0: frozen), for the split table.
    modes = [s["attrs"].get("training") if s["kernel"].startswith("batchnorm") else None for s in steps]
    return {"points": points, "modes": modes, "wall": profile["wall_seconds"] / n, "steps_timed": n, "image": buffers.get("image")}


# ---- the fit ----

def fit_kernel(points):
    """points [(units, seconds)] -> (a, b): least squares of seconds ~ a * units + b with
    a, b >= 0; b = 0 when every point has the same units."""
    n = len(points)
    su = sum(u for u, _ in points)
    ss = sum(s for _, s in points)
    suu = sum(u * u for u, _ in points)
    sus = sum(u * s for u, s in points)
    det = n * suu - su * su

    def sse(a, b):
        return sum((a * u + b - s) ** 2 for u, s in points)

    only_a = (sus / suu if suu > 0 else 0.0, 0.0)
    only_a = (max(0.0, only_a[0]), 0.0)
    if det <= 1e-12 * max(1.0, n * suu):  # degenerate: one units value for all points
        return only_a if suu > 0 else (0.0, max(0.0, ss / n))
    a = (n * sus - su * ss) / det
    b = (ss - a * su) / n
    if a >= 0 and b >= 0:
        return a, b
    only_b = (0.0, max(0.0, ss / n))
    return min((only_a, only_b), key=lambda c: sse(*c))


def fit(runs):
    by_kernel = {}
    for run in runs:
        for kernel, units, seconds in run["points"]:
            by_kernel.setdefault(kernel, []).append((units, seconds))
    return {k: fit_kernel(pts) for k, pts in by_kernel.items()}, by_kernel


def predict(run, constants, fallback=(0.0, 0.0)):
    total = 0.0
    for kernel, units, _ in run["points"]:
        a, b = constants.get(kernel, fallback)
        total += a * units + b
    return total


# ---- running plans ----

def parse_specs(text):
    specs = []
    for item in text.split(";"):
        item = item.strip()
        if not item:
            continue
        model, _, flags = item.partition(":")
        words = flags.split()
        if words and not words[0].startswith("-"):
            words = ["--strategy", words[0]] + words[1:]
        specs.append((model.strip(), flags.strip(), words))
    return specs


def run_plan(tools, model, words, batch, steps, threads, prefix, device="cpu", models_dir=None):
    models_dir = models_dir or os.path.join(ROOT, "build/test-models")
    onnx = model if model.endswith(".onnx") else os.path.join(models_dir, f"{model}_train_op13.onnx")
    compile_cmd = [os.path.join(tools, "lrc-compile"), onnx, "--batch", str(batch), *words]
    plan_bin, plan_txt, profile = prefix + ".plan", prefix + ".txt", prefix + ".json"
    for extra, out in ((["-o", plan_bin], None), (["--emit", "plan"], plan_txt)):
        p = subprocess.run(compile_cmd + extra, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(p.stderr.strip() or f"lrc-compile: exit status {p.returncode}")
        if out:
            with open(out, "w") as f:
                f.write(p.stdout)
    run_cmd = [os.path.join(tools, "lrc-run"), plan_bin, "--data", "synthetic", "--steps", str(steps),
               "--threads", str(threads), "--profile", profile, "--device", device]
    p = subprocess.run(run_cmd, capture_output=True, text=True)
    os.remove(plan_bin)  # VGG-16's plan file holds its 528 MiB of weights
    if p.returncode != 0:
        raise RuntimeError(p.stderr.strip() or f"lrc-run: exit status {p.returncode}")
    return plan_txt, profile


# ---- the report ----

def base_key(name):
    """'resnet50: 2ps --strips 4 --bn frozen' -> ('resnet50 --bn frozen', '2ps'): the plan
    less its row-plan flags, and its strategy."""
    model, _, flags = name.partition(":")
    words = flags.split()
    if words and not words[0].startswith("-"):
        words = ["--strategy"] + words
    kept, strategy, i = [], "layerwise", 0
    while i < len(words):
        if words[i] in ("--strategy", "--strips", "--bp-strips", "--cut") and i + 1 < len(words):
            if words[i] == "--strategy":
                strategy = words[i + 1]
            i += 2
        else:
            kept.append(words[i])
            i += 1
    return " ".join([model.strip()] + kept), strategy


def fmt(x):
    return f"{x:.4g}"


def report(names, runs, args_line):
    constants, by_kernel = fit(runs)
    print(f"# Cost model calibration ({args_line.split(' backend')[0]})\n\n{args_line}\n")
    print("| plan | train steps | steps timed | step (s) |")
    print("|---|---|---|---|")
    for name, run in zip(names, runs):
        print(f"| {name} | {len(run['points'])} | {run['steps_timed']} | {run['wall']:.4g} |")

    total_seconds = sum(s for pts in by_kernel.values() for _, s in pts)
    print("\nPer kernel (all plans; seconds per training step summed over the plans' steps):\n")
    print("| kernel | calls | units | seconds | share | a (s/unit) | b (s/call) | units/s (1/a) | fit error |")
    print("|---|---|---|---|---|---|---|---|---|")
    order = sorted(by_kernel, key=lambda k: -sum(s for _, s in by_kernel[k]))
    for k in order:
        pts = by_kernel[k]
        a, b = constants[k]
        seconds = sum(s for _, s in pts)
        err = sum(abs(a * u + b - s) for u, s in pts) / seconds if seconds > 0 else 0.0
        rate = f"{1 / a:.3g}" if a > 0 else "-"
        print(f"| {k} | {len(pts)} | {sum(u for u, _ in pts):.4g} | {seconds:.4f} | "
              f"{100 * seconds / total_seconds:.1f}% | {fmt(a)} | {fmt(b)} | {rate} | {100 * err:.1f}% |")

    # One fallback pair for kernels the calibration did not see: the memory-bound kernels
    # (all but the multiply-add ones) fitted together.
    memory_points = [p for k, pts in by_kernel.items() if k not in MAC_KERNELS for p in pts]
    fallback = fit_kernel(memory_points) if memory_points else (0.0, 0.0)
    print("\nC++ constants for compiler/CostModel.cpp (`{kernel, {seconds per unit, seconds per call}}`):\n")
    print("```cpp")
    listed = dict(constants)
    for k in ("gemm", "matmul"):  # one GEMM kernel behind both
        other = "matmul" if k == "gemm" else "gemm"
        if k not in listed and other in constants:
            listed[k] = constants[other]
    for k in sorted(listed):
        a, b = listed[k]
        note = "" if k in constants else f"  // not in the calibration plans: {'matmul' if k == 'gemm' else 'gemm'}'s"
        print(f'{{"{k}", {{{a:.4g}, {b:.4g}}}}},{note}')
    print(f"// fallback (every memory-bound kernel above fitted together): {{{fallback[0]:.4g}, {fallback[1]:.4g}}}")
    print("```")

    split = {}
    for run in runs:
        for (kernel, units, seconds), mode in zip(run["points"], run["modes"]):
            if mode is not None:
                split.setdefault((kernel, mode), []).append((units, seconds))
    if len({mode for _, mode in split}) > 1:
        print("\nBatchNorm by mode (`training=1`: batch statistics, exact BatchNorm; `training=0`: frozen), "
              "fitted apart; the table above fits both modes as one kernel:\n")
        print("| kernel | training | calls | units | seconds | a (s/unit) | b (s/call) | fit error |")
        print("|---|---|---|---|---|---|---|---|")
        for (kernel, mode), pts in sorted(split.items()):
            a, b = fit_kernel(pts)
            seconds = sum(t for _, t in pts)
            err = sum(abs(a * u + b - t) for u, t in pts) / seconds if seconds > 0 else 0.0
            print(f"| {kernel} | {mode} | {len(pts)} | {sum(u for u, _ in pts):.4g} | {seconds:.4f} | {fmt(a)} | "
                  f"{fmt(b)} | {100 * err:.1f}% |")

    print("\nWhole plans (seconds per training step): predicted = sum over the train steps of a * units + b; "
          "held out = the same with constants fitted to the other plans only.\n")
    print("| plan | measured step | kernels' sum | predicted | error vs step | error vs kernels | "
          "held out | held-out error vs step |")
    print("|---|---|---|---|---|---|---|---|")
    errors, held_errors = [], []
    for i, (name, run) in enumerate(zip(names, runs)):
        measured = run["wall"]
        kernels = sum(s for _, _, s in run["points"])
        predicted = predict(run, constants, fallback)
        others = [r for j, r in enumerate(runs) if j != i]
        if others:
            c_out, _ = fit(others)
            held = predict(run, c_out, fallback)
            held_text = f"{held:.3f}"
            held_err = (held - measured) / measured
            held_errors.append(abs(held_err))
            held_err_text = f"{100 * held_err:+.1f}%"
        else:
            held_text = held_err_text = "-"
        err = (predicted - measured) / measured
        errors.append(abs(err))
        print(f"| {name} | {measured:.3f} | {kernels:.3f} | {predicted:.3f} | {100 * err:+.1f}% | "
              f"{100 * (predicted - kernels) / kernels:+.1f}% | {held_text} | {held_err_text} |")
    print(f"\nmean |error| vs step: {100 * sum(errors) / len(errors):.1f}% (max {100 * max(errors):.1f}%)"
          + (f"; held out: {100 * sum(held_errors) / len(held_errors):.1f}% (max {100 * max(held_errors):.1f}%)"
             if held_errors else ""))

    # Row plans against the layerwise plan of the same model and other flags: what the
    # search ranks by.
    print("\nRow plans vs the layerwise plan of the same model and other flags (what the search ranks by):\n")
    print("| plan | vs | measured ratio | predicted ratio |")
    print("|---|---|---|---|")
    layerwise = {}
    for name, run in zip(names, runs):
        key, strategy = base_key(name)
        if strategy == "layerwise":
            layerwise[key] = (name, run["wall"], predict(run, constants, fallback))
    for name, run in zip(names, runs):
        key, strategy = base_key(name)
        if strategy != "layerwise" and key in layerwise:
            base, m0, p0 = layerwise[key]
            print(f"| {name} | {base} | {run['wall'] / m0:.3f} | {predict(run, constants, fallback) / p0:.3f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--plans", default=DEFAULT_PLANS, help="';'-separated 'MODEL: lrc-compile flags'")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3, help="training steps per plan; the first is warm-up")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="the build folder (its tools/)")
    ap.add_argument("--bin", help="the folder of lrc-compile and lrc-run (default: BUILD/tools)")
    ap.add_argument("--models-dir", help="where MODEL_train_op13.onnx are (default: build/test-models; "
                                         "bench/gpu_step.py --export-only writes them elsewhere)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda", "cuda-emulated"],
                    help="lrc-run's backend: the constants are that backend's (cuda: each profiled kernel call "
                         "ends with a synchronize, so it is timed whole)")
    ap.add_argument("--save", help="keep the plan texts and profiles in this folder")
    ap.add_argument("--from", dest="from_dir", help="refit the plans saved in this folder (by --save)")
    ap.add_argument("--check", nargs=2, metavar=("PROFILE.json", "PLAN.txt"),
                    help="check one profile against its plan text and exit")
    args = ap.parse_args()

    if args.check:
        try:
            run = load_run(args.check[1], args.check[0])
        except (ValueError, KeyError, OSError) as e:
            print(f"calibrate.py: error: {args.check[0]}: {e}", file=sys.stderr)
            return 1
        for kernel, units, _ in run["points"]:
            if not units > 0:
                print(f"calibrate.py: error: a {kernel} step has no work units", file=sys.stderr)
                return 1
        print(f"profile ok: {len(run['points'])} train steps, {run['steps_timed']} timed")
        return 0

    folder = args.from_dir or args.save or tempfile.mkdtemp(prefix="lrc-calib-")
    os.makedirs(folder, exist_ok=True)
    settings = os.path.join(folder, "settings.json")
    if args.from_dir:  # the saved run's plans and settings
        with open(settings) as f:
            saved = json.load(f)
        args.plans, args.batch, args.steps, args.threads = saved["plans"], saved["batch"], saved["steps"], saved["threads"]
        args.device = saved.get("device", "cpu")
    else:
        with open(settings, "w") as f:
            json.dump({"plans": args.plans, "batch": args.batch, "steps": args.steps, "threads": args.threads,
                       "device": args.device}, f)
    specs = parse_specs(args.plans)
    names = [f"{model}: {flags}" for model, flags, _ in specs]
    runs = []
    for i, ((model, _, words), name) in enumerate(zip(specs, names)):
        prefix = os.path.join(folder, f"plan{i}")
        if args.from_dir:
            plan_txt, profile = prefix + ".txt", prefix + ".json"
        else:
            print(f"[{i + 1}/{len(specs)}] {name}", file=sys.stderr, flush=True)
            plan_txt, profile = run_plan(args.bin or os.path.join(args.build, "tools"), model, words, args.batch,
                                         args.steps, args.threads, prefix, args.device, args.models_dir)
        runs.append(load_run(plan_txt, profile))
    images = sorted({"x".join(map(str, r["image"][1:])) for r in runs if r["image"]})
    args_line = (f"{args.device} backend, batch {args.batch}, images {', '.join(images)}, {args.threads} thread(s), "
                 f"{args.steps - 1} timed step(s) after 1 warm-up per plan, `lrc-run --data synthetic --profile`")
    report(names, runs, args_line)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Data-parallel training (issue 17) against one process and against PyTorch.

`mpirun -np 2 lrc-run` trains a plan compiled with `lrc-compile --data-parallel` (per-rank
batch B), each rank on its slice of every global batch of 2B samples, and rank 0 writes the
metrics (the global batch's mean loss) and the model. This test exports one of parity.py's
models (MODELS: small_vgg, small_resnet, ...) in training mode, trains it for a few SGD steps
with 2 ranks, and checks every step's loss and every trained parameter and BatchNorm running
statistic (rank 0's, read from --save-onnx) with parity.py's comparison and bounds:

--bn-sync (SyncBatchNorm: statistics over both ranks' batches): on a data set of exactly 2B
  samples (every step sees every sample; the shuffle only decides which rank gets which),
  against one process training the plan compiled without --data-parallel at batch 2B with
  the same seed (losses within LAYERWISE_LOSS_RTOL, tensors within LAYERWISE_TOL of their max
  abs value, floors of F32_NOISE x PyTorch float32's own error as parity.py's --vs-layerwise),
  and against PyTorch float64 at batch 2B (parity.py's torch_reference and tolerances).
without it (PyTorch DDP: each rank normalizes with its own batch's statistics, rank 0's
  running statistics are kept, gradients averaged): on 2B x --global-batches samples, against
  a float64 PyTorch model that does what DDP does: per step, rank 0's slice forward in training
  mode, rank 1's slice forward with the BatchNorm buffers saved before and restored after,
  loss = mean of the two, backward, optimizer step. The slices come from lrc-run's data order
  (runtime/data/BatchLoader.h), rebuilt here with mt19937_64 in Python (checked against the
  C++ standard's 10000th output). PyTorch float32 run the same way gives the error floor.
  A model without BatchNorm is also compared with one process at batch 2B (DDP is then
  exactly one process).

Both lrc runs must measure their predicted arena peak (rank 0's "peak arena bytes: measured
M, predicted P" line and its --metrics record), and the 2-rank run must say it ran as 2 ranks.

Usage: data_parallel.py MODEL --bin BUILD/tools --work DIR [--bn-sync] [--steps 3]
                        [--global-batches 2] [--optimizer sgd|adamw] [-- lrc-compile flags]
e.g.   data_parallel.py small_resnet --bin build/tools --work /tmp/dp --bn-sync -- --strategy 2ps --strips 2
Exit status 0 when everything is within tolerance; otherwise 1 and a "FAILED: ..." line per
mismatch.
"""
import argparse
import copy
import json
import os
import re
import subprocess
import sys
import time

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parity  # noqa: E402  (the models, the export, the reference optimizer and the comparison)

RANKS = 2
SEED = 3  # lrc-run --seed of both runs (not the default 0, so that the seed is shown to be used)
# The per-rank batch of each model: half of parity.py's batch where that is even; small_resnet's
# batch of 3 cannot be split, so 2 ranks x 2 (its float32 stays as close to float64 at 4).
PER_RANK_BATCH = {"small_vgg": 2, "small_resnet": 2, "odd_net": 1}

MASK64 = (1 << 64) - 1


class MT19937_64:
    """std::mt19937_64 (C++11 [rand.predef]): word 64, state 312, shift 156, mask bits 31."""
    N, M = 312, 156
    MATRIX_A, UPPER, LOWER = 0xB5026F5AA96619E9, 0xFFFFFFFF80000000, 0x7FFFFFFF

    def __init__(self, seed=5489):
        mt = [seed & MASK64]
        for i in range(1, self.N):
            mt.append((6364136223846793005 * (mt[-1] ^ (mt[-1] >> 62)) + i) & MASK64)
        self.mt, self.index = mt, self.N

    def _twist(self):
        mt = self.mt
        for i in range(self.N):
            x = (mt[i] & self.UPPER) | (mt[(i + 1) % self.N] & self.LOWER)
            mt[i] = mt[(i + self.M) % self.N] ^ (x >> 1) ^ (self.MATRIX_A if x & 1 else 0)
        self.index = 0

    def __call__(self):
        if self.index >= self.N:
            self._twist()
        y = self.mt[self.index]
        self.index += 1
        y ^= (y >> 29) & 0x5555555555555555
        y ^= (y << 17) & 0x71D67FFFEDA60000
        y ^= (y << 37) & 0xFFF7EEE000000000
        y ^= y >> 43
        return y & MASK64


def check_mt19937_64():
    """The C++ standard's check: the 10000th output of a default-constructed std::mt19937_64."""
    rng = MT19937_64()
    for _ in range(9999):
        rng()
    got = rng()
    if got != 9981545732273789042:
        sys.exit(f"FAILED: mt19937_64 in Python: 10000th output {got}, expected 9981545732273789042")


def uniform_below(rng, n):
    """runtime/data/Random.h: draws until r >= 2^64 mod n, returns r % n."""
    threshold = (1 << 64) % n
    while True:
        r = rng()
        if r >= threshold:
            return r % n


def epoch_order(samples, seed, epoch):
    """BatchLoader's order of epoch `epoch`: Fisher-Yates driven by mt19937_64(seed + epoch)."""
    rng = MT19937_64((seed + epoch) & MASK64)
    order = list(range(samples))
    for i in range(samples - 1, 0, -1):
        j = uniform_below(rng, i + 1)
        order[i], order[j] = order[j], order[i]
    return order


def rank_slices(samples, batch, seed, steps):
    """Per step, each rank's sample indices: global batch t of its epoch is
    order[t*RANKS*batch : (t+1)*RANKS*batch], rank r gets the r-th `batch` of it."""
    per_epoch = samples // (RANKS * batch)
    slices, orders = [], {}
    for step in range(steps):
        epoch, t = divmod(step, per_epoch)
        if epoch not in orders:
            orders[epoch] = epoch_order(samples, seed, epoch)
        first = t * RANKS * batch
        slices.append([orders[epoch][first + r * batch:first + (r + 1) * batch] for r in range(RANKS)])
    return slices


def ddp_reference(model, x, y, slices, dtype, args):
    """What PyTorch DDP (per-rank BatchNorm, broadcast_buffers: rank 0's running statistics)
    does with `slices` (per step, per rank, sample indices), in one process: the gradient of
    the mean of the ranks' losses is the mean of their gradients, DDP's allreduce."""
    model = copy.deepcopy(model).to(dtype).train()
    x = x.to(dtype)
    opt = parity.make_optimizer(args, model.parameters())
    scheduler = parity.SCHEDULES[args.schedule][0](opt, len(slices)) if args.schedule else None
    losses = []
    for ranks in slices:
        opt.zero_grad()
        rank_losses = []
        for r, idx in enumerate(ranks):
            idx = torch.tensor(idx)
            # Ranks other than 0 update copies of the BatchNorm buffers, thrown away after
            # their forward: only rank 0's running statistics survive. (Copies, not a restore
            # in place: rank 0's forward saved its buffers for backward.)
            kept = {m: dict(m._buffers) for m in model.modules() if m._buffers} if r > 0 else {}
            for m, buffers in kept.items():
                m._buffers.update({k: v.clone() if v is not None else v for k, v in buffers.items()})
            rank_losses.append(F.cross_entropy(model(x[idx]), y[idx]))
            for m, buffers in kept.items():
                m._buffers.update(buffers)
        loss = sum(rank_losses) / len(rank_losses)
        losses.append(loss.item())
        loss.backward()
        opt.step()
        if scheduler:
            scheduler.step()
    return losses, {k: v.detach().double().numpy().copy() for k, v in model.state_dict().items()}


def run(cmd):
    """Runs cmd; returns its output and wall seconds, or ends the test with FAILED."""
    start = time.monotonic()
    try:  # no stdin: mpirun would forward ours to rank 0 (and eat a caller's)
        result = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
    except OSError as e:  # mpirun missing, a binary not executable (being rebuilt)
        sys.exit(f"FAILED: {' '.join(cmd)}: {e}")
    if result.returncode != 0:
        sys.exit(f"FAILED: {' '.join(cmd)} (exit {result.returncode})\n{result.stdout}")
    return result.stdout, time.monotonic() - start


def lrc_train(args, tag, onnx_path, x_path, y_path, batch, compile_flags, ranks, failures):
    """Compile onnx_path at `batch` with compile_flags, train it with lrc-run (under
    mpirun -np `ranks` when ranks > 1) and return its losses and trained initializers; checks
    rank 0's arena peak line and record, and that the run had `ranks` ranks."""
    path = lambda name: os.path.join(args.work, tag + "-" + name)
    plan, metrics, trained = path("plan.bin"), path("metrics.jsonl"), path("trained.onnx")
    for stale in (metrics, trained):
        if os.path.exists(stale):
            os.remove(stale)
    run([os.path.join(args.bin, "lrc-compile"), onnx_path, "-o", plan, "--batch", str(batch),
         "--optimizer", args.optimizer] + compile_flags)
    launcher = ["mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", str(ranks)] \
        if ranks > 1 else []
    out, seconds = run(launcher + [os.path.join(args.bin, "lrc-run"), plan, "--data", f"npy:{x_path},{y_path}",
                                   "--steps", str(args.steps), "--seed", str(SEED), "--threads", "1"] +
                       parity.optimizer_flags(args) + ["--metrics", metrics, "--save-onnx", trained])
    print(f"{tag}: {ranks} rank{'s' if ranks > 1 else ''} x batch {batch}: lrc-compile + lrc-run {seconds:.1f} s")
    said = f"data parallel: {ranks} ranks x batch {batch} = global batch {ranks * batch}"
    if ranks > 1 and said not in out:
        failures.append(f"{tag}: lrc-run did not say '{said}' (not one job of {ranks} ranks?)\n{out}")
    if ranks == 1 and "data parallel:" in out:
        failures.append(f"{tag}: a one-process run said it was data parallel")
    lines = re.findall(r"^peak arena bytes: measured (\d+), predicted (\d+)$", out, re.M)
    if len(lines) != 1:
        failures.append(f"{tag}: {len(lines)} 'peak arena bytes: measured M, predicted P' lines in rank 0's "
                        f"output, expected 1\n{out}")
    elif lines[0][0] != lines[0][1]:
        failures.append(f"{tag}: arena peak line: measured {lines[0][0]} != predicted {lines[0][1]}")
    with open(metrics) as f:
        records = [json.loads(line) for line in f]
    losses = [r["loss"] for r in records if "loss" in r]
    peaks = [r for r in records if "measured_peak_bytes" in r]
    if peaks:
        parity.check_peak(tag, peaks[-1], failures)
    else:
        failures.append(f"{tag}: no arena peak record in {metrics}")
    state = {t.name: onnx.numpy_helper.to_array(t) for t in onnx.load(trained).graph.initializer}
    return losses, state


def has_batchnorm(model):
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", choices=sorted(PER_RANK_BATCH))
    ap.add_argument("--bin", required=True, help="folder holding lrc-compile and lrc-run")
    ap.add_argument("--work", required=True)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--bn-sync", action="store_true",
                    help="lrc-compile --bn-sync; checked against one process at batch 2B and PyTorch")
    ap.add_argument("--global-batches", type=int, default=2,
                    help="without --bn-sync: global batches per epoch of the data set (--bn-sync: 1)")
    ap.add_argument("--optimizer", choices=["sgd", "adamw"], default="sgd")
    ap.epilog = "Extra lrc-compile flags go last, after --: MODEL -- --strategy 2ps --strips 2"
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    args = ap.parse_args(argv[:cut])
    args.compile_flags = argv[cut + 1:]
    # What parity.py's helpers read from their own arguments.
    args.nesterov, args.schedule, args.bn, args.device = False, None, "exact", "cpu"
    os.makedirs(args.work, exist_ok=True)
    check_mt19937_64()
    torch.manual_seed(0)
    torch.set_num_threads(1)

    cls = parity.MODELS[args.model]
    batch = PER_RANK_BATCH[args.model]
    global_batch = RANKS * batch
    samples = global_batch * (1 if args.bn_sync else args.global_batches)
    model = cls().train()
    x = torch.randn(samples, *cls.input_shape[1:])
    with torch.no_grad():
        classes = model.eval()(x[:1]).shape[1]
    model.train()
    y = torch.randint(0, classes, (samples,))

    onnx_path, x_path, y_path = parity.export_model_and_data(model, x[:global_batch], x, y, args.work, args.model,
                                                             args.opset)
    initial = {k: v.detach().clone() for k, v in model.state_dict().items()}

    failures = []
    dp_flags = ["--data-parallel"] + (["--bn-sync"] if args.bn_sync else [])
    mode = "bn-sync" if args.bn_sync else "ddp"
    print(f"{args.model}: {RANKS} ranks x batch {batch}, {samples} samples, {args.steps} steps, seed {SEED}, "
          f"{mode}, lrc-compile {' '.join(args.compile_flags) or '(default flags)'}")
    dp_losses, dp_state = lrc_train(args, "ranks", onnx_path, x_path, y_path, batch,
                                    args.compile_flags + dp_flags, RANKS, failures)

    if args.bn_sync:  # every step is the whole data set: PyTorch at batch 2B on it
        ref64 = parity.torch_reference(model, x, y, args.steps, torch.float64, "exact", args)
        ref32 = parity.torch_reference(model, x, y, args.steps, torch.float32, "exact", args)
    else:
        slices = rank_slices(samples, batch, SEED, args.steps)
        for step, ranks in enumerate(slices):
            print(f"step {step}: " + ", ".join(f"rank {r} samples {idx}" for r, idx in enumerate(ranks)))
        ref64 = ddp_reference(model, x, y, slices, torch.float64, args)
        ref32 = ddp_reference(model, x, y, slices, torch.float32, args)
    (ref_losses, ref_state), (f32_losses, f32_state) = ref64, ref32
    scale_of = lambda name: max(float(np.abs(ref_state[name]).max()), 1e-12)
    f32_err = lambda name: float(np.abs(f32_state[name] - ref_state[name]).max()) / scale_of(name)
    loss_floor = lambda step: parity.F32_NOISE * parity.rel_err(f32_losses[step], ref_losses[step])
    tensor_floor = lambda name, ref, scale: parity.F32_NOISE * f32_err(name)
    moved = lambda name, ref, scale: float(np.abs(ref - initial[name].double().numpy()).max()) / scale

    def summary(what, losses, state, ref_l, ref_s):
        loss_err = max((parity.rel_err(a, b) for a, b in zip(losses, ref_l)), default=float("nan"))
        tensor_err = max((float(np.abs(state[n].reshape(r.shape) - r).max()) / max(float(np.abs(r).max()), 1e-12)
                          for n, r in ref_s.items() if n in state), default=float("nan"))
        return f"{what}: max loss rel err {loss_err:.2e}, max tensor err {tensor_err:.2e}"

    reference = "torch-sync" if args.bn_sync else "torch-ddp"
    print(f"--- {RANKS} ranks against PyTorch float64 ({'batch ' + str(global_batch) if args.bn_sync else 'DDP'})")
    compared = parity.compare(
        reference, dp_losses, dp_state, ref_losses, ref_state, parity.LOSS_RTOL, parity.PARAM_TOL, failures,
        loss_note=lambda step: f" (torch float32: {parity.rel_err(f32_losses[step], ref_losses[step]):.2e})",
        tensor_note=lambda name, ref, scale: f" (torch float32: {f32_err(name):.2e}; moved {moved(name, ref, scale):.2e})",
        loss_floor=loss_floor, tensor_floor=tensor_floor)
    lines = [summary(f"{RANKS} ranks vs {reference} float64", dp_losses, dp_state, ref_losses, ref_state),
             summary(f"torch float32 vs {reference} float64", f32_losses, f32_state, ref_losses, ref_state)]

    if args.bn_sync or not has_batchnorm(model):  # then 2 ranks x B must be one process at 2B
        single_flags, i = [], 0  # the compile flags less the data-parallel ones
        while i < len(args.compile_flags):
            flag = args.compile_flags[i]
            i += 2 if flag == "--bucket-mib" else 1
            if flag not in ("--data-parallel", "--bn-sync", "--bucket-mib"):
                single_flags.append(flag)
        one_losses, one_state = lrc_train(args, "one", onnx_path, x_path, y_path, global_batch, single_flags, 1,
                                          failures)
        one_ref = {n: one_state[n].reshape(ref_state[n].shape) for n in ref_state if n in one_state}
        failures += [f"one process: {n} missing from its trained model" for n in ref_state
                     if n not in one_state and not n.endswith("num_batches_tracked")]
        print(f"--- {RANKS} ranks x batch {batch} against one process at batch {global_batch}")
        parity.compare("one-process", dp_losses, dp_state, one_losses, one_ref, parity.LAYERWISE_LOSS_RTOL,
                       parity.LAYERWISE_TOL, failures, loss_floor=loss_floor, tensor_floor=tensor_floor)
        lines.append(summary(f"{RANKS} ranks vs one process", dp_losses, dp_state, one_losses, one_ref))

    print(f"{args.model} ({mode}): {len(dp_losses)} losses, {compared} tensors compared")
    print("\n".join(lines))
    if failures:
        print("\n".join("FAILED: " + f for f in failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

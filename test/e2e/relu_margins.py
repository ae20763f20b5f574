#!/usr/bin/python3
"""Which ReLUs float32 rounding decides in a parity model's training run.

parity.py compares lrc with PyTorch float64 and bounds lrc's error by PyTorch float32's own.
That bound assumes float32 only rounds: a ReLU pre-activation closer to 0 than float32's
rounding of its sum breaks it, since each float32 run (PyTorch's, lrc's layerwise plan, a row
plan that sums in another order) may switch that unit on or off, and the gradient through it
changes by a whole term. This script draws the model and batch exactly as parity.py does,
trains it STEPS SGD steps in float64 and in float32 side by side (parity.py's optimizer and
learning rate), and prints, per step, every nn.ReLU input element whose sign differs between
the two runs (its float64 value), and the smallest |pre-activation| of each ReLU module.
With --force, it then retrains in float64 with each such element replaced by the float32
run's value at that step (the float32 run's on/off decision), and prints both loss series:
when the forced series equals lrc's losses, the difference from float64 is that decision.

Only nn.ReLU modules are seen (functional relu calls are not), and max-pool ties are not.

Usage: relu_margins.py MODEL [--steps 3] [--force] [--seed N] [--lr X]
(the VGG-16 zoo finding of issue 13: relu_margins.py vgg16 --steps 2 --force)
"""
import argparse
import copy
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parity  # noqa: E402  (the model table, the draw's seed, the optimizer)


def train(model, x, y, steps, dtype, override=None):
    """Trains a copy of `model` in `dtype`; returns the losses and, per step, each nn.ReLU's
    input (float64 copies). `override[step][relu index]` = (mask, values) replaces those
    input elements at that step."""
    model = copy.deepcopy(model).to(dtype).train()
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    seen, step_now = [], [0]

    def hook(index):
        def pre(module, inputs):
            z = inputs[0]
            if override and index in override.get(step_now[0], {}):
                mask, values = override[step_now[0]][index]
                z = torch.where(mask, values.to(z.dtype), z)
            seen[-1][index] = z.detach().double().clone()
            return (z,)
        return pre

    for i, m in enumerate(relus):
        m.register_forward_pre_hook(hook(i))
    opt = parity.make_optimizer(argparse.Namespace(optimizer="sgd", nesterov=False), model.parameters())
    losses = []
    for step in range(steps):
        step_now[0] = step
        seen.append({})
        opt.zero_grad()
        loss = F.cross_entropy(model(x.to(dtype)), y, ignore_index=parity.IGNORE_INDEX)
        losses.append(loss.item())
        loss.backward()
        opt.step()
    return losses, seen


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", choices=sorted(parity.MODELS))
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--force", action="store_true",
                    help="retrain in float64 with float32's on/off decisions where they differ")
    ap.add_argument("--seed", type=int, help="the draw's seed (default: the model's, as parity.py)")
    ap.add_argument("--lr", type=float, help="the learning rate (default: the model's, as parity.py)")
    args = ap.parse_args()
    model, x, y = parity.draw(args.model, args.seed)  # sets parity.LR, the model's learning rate
    if args.lr:
        parity.LR = args.lr
    losses64, seen64 = train(model, x, y, args.steps, torch.float64)
    losses32, seen32 = train(model, x, y, args.steps, torch.float32)
    override = {}
    for step in range(args.steps):
        for i in sorted(seen64[step]):
            z64, z32 = seen64[step][i], seen32[step][i]
            flipped = (z64 > 0) != (z32 > 0)
            smallest = float(z64.abs().min())
            line = f"step {step} relu {i}: smallest |pre-activation| {smallest:.2e}"
            if flipped.any():
                where = flipped.nonzero().tolist()
                line += f"; float32 decides {len(where)} unit(s) otherwise: " + ", ".join(
                    f"{tuple(w)} float64 {float(z64[tuple(w)]):+.2e} float32 {float(z32[tuple(w)]):+.2e}"
                    for w in where[:5])
                override.setdefault(step, {})[i] = (flipped, z32)
            print(line)
    print("losses float64:", " ".join(f"{l:.8f}" for l in losses64))
    print("losses float32:", " ".join(f"{l:.8f}" for l in losses32))
    if args.force:
        # Only the first step with such decisions is forced: the later ones belong to float32's
        # own trajectory, which has left float64's by then.
        if not override:
            print("--force: float32 decides no ReLU unit otherwise; nothing to force")
            return
        first = min(override)
        losses, _ = train(model, x, y, args.steps, torch.float64, {first: override[first]})
        print(f"losses float64, float32's decisions at step {first}:", " ".join(f"{l:.8f}" for l in losses))


if __name__ == "__main__":
    main()

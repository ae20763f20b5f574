#!/usr/bin/python3
"""Requires every lrc-run --metrics file after the first to have the first one's losses, step by
step, within a relative 1e-5 (float32 sums in another order), and every one to be finite.

    check_same_losses.py REFERENCE.jsonl OTHER.jsonl...
"""
import json
import math
import sys


def losses(path):
    with open(path) as f:
        return [r["loss"] for r in map(json.loads, f) if "loss" in r]


ref = losses(sys.argv[1])
bad = [f"{sys.argv[1]}: no losses"] if not ref else []
for path in sys.argv[2:]:
    got = losses(path)
    if len(got) != len(ref):
        bad.append(f"{path}: {len(got)} losses, {sys.argv[1]} {len(ref)}")
    for step, (a, b) in enumerate(zip(got, ref)):
        if not (math.isfinite(a) and abs(a - b) <= 1e-5 * abs(b)):
            bad.append(f"{path}: step {step} loss {a!r}, {sys.argv[1]} {b!r}")
print("\n".join(bad) or f"same losses: {len(ref)} steps, {len(sys.argv) - 2} plans")
sys.exit(1 if bad else 0)

# Compares the metrics files of conv-path.test: each run's losses against the im2col run's,
# and its measured peak against its predicted peak.
import json
import os
import sys

d = sys.argv[1]


def read(name):
    recs = [json.loads(line) for line in open(os.path.join(d, name + ".jsonl"))]
    losses = [r["loss"] for r in recs if "loss" in r]
    peak = recs[-1]
    return losses, peak["measured_peak_bytes"] == peak["predicted_peak_bytes"]


for plan, runs in (("l", ("dnnl", "plain", "default")), ("s", ("dnnl", "plain"))):
    want, _ = read(plan + "-im2col")
    for run in runs:
        got, peak_ok = read(plan + "-" + run)
        close = len(got) == len(want) and all(abs(a - b) <= 1e-4 * max(1.0, abs(b)) for a, b in zip(got, want))
        print(f"{plan} {run}: {len(got)} losses within 1e-4 of im2col: {close}, measured = predicted: {peak_ok}")

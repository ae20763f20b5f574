# Compares the runs of conv-scratch-winograd.test: each run's losses against the im2col plan on
# the im2col path, its measured peak against its predicted peak, and which of the three
# products ran on oneDNN's Winograd kernels (ONEDNN_VERBOSE's exec lines).
import json
import os
import sys

d = sys.argv[1]


def read(name):
    recs = [json.loads(line) for line in open(os.path.join(d, name + ".jsonl"))]
    losses = [r["loss"] for r in recs if "loss" in r]
    peak = recs[-1]
    return losses, peak["measured_peak_bytes"] == peak["predicted_peak_bytes"]


def winograd(name):
    lines = [line for line in open(os.path.join(d, name + ".log")) if "exec,cpu,convolution,jit_wino_4x3" in line]
    return " ".join(str(any(("," + kind + ",") in line for line in lines))
                    for kind in ("forward_training", "backward_data", "backward_weights"))


want, _ = read("im2col")
for run in ("wino-im2col", "wino", "wino2ps"):
    got, peak_ok = read(run)
    close = len(got) == len(want) and all(abs(a - b) <= 1e-4 * max(1.0, abs(b)) for a, b in zip(got, want))
    line = f"{run}: {len(got)} losses within 1e-4 of im2col: {close}, measured = predicted: {peak_ok}"
    if run != "wino-im2col":
        line += f", Winograd forward/input/weight: {winograd(run)}"
    print(line)

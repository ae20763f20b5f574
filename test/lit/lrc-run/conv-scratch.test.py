# Compares the runs of conv-scratch.test: each run's losses against the im2col plan on the
# im2col path, its measured peak against its predicted peak, and the oneDNN convolutions the
# two plans ran (ONEDNN_VERBOSE's exec lines).
import json
import os
import sys

d = sys.argv[1]


def read(name):
    recs = [json.loads(line) for line in open(os.path.join(d, name + ".jsonl"))]
    losses = [r["loss"] for r in recs if "loss" in r]
    peak = recs[-1]
    return losses, peak["measured_peak_bytes"] == peak["predicted_peak_bytes"], peak["predicted_peak_bytes"]


def convs(name):
    return sum(1 for line in open(os.path.join(d, name + ".log")) if "exec,cpu,convolution,jit" in line)


want, _, im2colPeak = read("im2col-im2col")
for run in ("dnnl-im2col", "im2col-dnnl", "dnnl-dnnl"):
    got, peak_ok, _ = read(run)
    close = len(got) == len(want) and all(abs(a - b) <= 1e-4 * max(1.0, abs(b)) for a, b in zip(got, want))
    print(f"{run}: {len(got)} losses within 1e-4 of im2col: {close}, measured = predicted: {peak_ok}")
print(f"oneDNN convolutions with --conv-scratch dnnl more than without: {convs('dnnl-dnnl') > convs('im2col-dnnl') > 0}")
print(f"predicted peak with --conv-scratch dnnl at least without: {read('dnnl-dnnl')[2] >= im2colPeak}")

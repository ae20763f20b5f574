# Compares the runs of conv-scratch.test: each run's losses against the im2col plan on the
# im2col path, its measured peak against its predicted peak, and the oneDNN convolutions the
# two plans ran (ONEDNN_VERBOSE's exec lines).
import os
import sys

from run_metrics import close, read

d = sys.argv[1]


def convs(name):
    return sum(1 for line in open(os.path.join(d, name + ".log")) if "exec,cpu,convolution,jit" in line)


want, _, im2colPeak = read(d, "im2col-im2col")
for run in ("dnnl-im2col", "im2col-dnnl", "dnnl-dnnl"):
    got, peak_ok, _ = read(d, run)
    print(f"{run}: {len(got)} losses within 1e-4 of im2col: {close(got, want)}, measured = predicted: {peak_ok}")
print(f"oneDNN convolutions with --conv-scratch dnnl more than without: {convs('dnnl-dnnl') > convs('im2col-dnnl') > 0}")
print(f"predicted peak with --conv-scratch dnnl at least without: {read(d, 'dnnl-dnnl')[2] >= im2colPeak}")

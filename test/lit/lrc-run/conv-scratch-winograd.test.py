# Compares the runs of conv-scratch-winograd.test: each run's losses against the im2col plan on
# the im2col path, its measured peak against its predicted peak, and which of the three
# products ran on oneDNN's Winograd kernels (ONEDNN_VERBOSE's exec lines).
import os
import sys

from run_metrics import close, read

d = sys.argv[1]


def winograd(name):
    lines = [line for line in open(os.path.join(d, name + ".log")) if "exec,cpu,convolution,jit_wino_4x3" in line]
    return " ".join(str(any(("," + kind + ",") in line for line in lines))
                    for kind in ("forward_training", "backward_data", "backward_weights"))


want = read(d, "im2col")[0]
for run in ("wino-im2col", "wino", "wino2ps"):
    got, peak_ok, _ = read(d, run)
    line = f"{run}: {len(got)} losses within 1e-4 of im2col: {close(got, want)}, measured = predicted: {peak_ok}"
    if run != "wino-im2col":
        line += f", Winograd forward/input/weight: {winograd(run)}"
    print(line)

# Compares the metrics files of conv-path.test: each run's losses against the im2col run's,
# and its measured peak against its predicted peak.
import sys

from run_metrics import close, read

d = sys.argv[1]
for plan, runs in (("l", ("dnnl", "plain", "default")), ("s", ("dnnl", "plain"))):
    want = read(d, plan + "-im2col")[0]
    for run in runs:
        got, peak_ok, _ = read(d, plan + "-" + run)
        print(f"{plan} {run}: {len(got)} losses within 1e-4 of im2col: {close(got, want)}, measured = predicted: {peak_ok}")

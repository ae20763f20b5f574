# The metrics files of the conv-path, conv-scratch and conv-scratch-winograd tests: one run's
# losses and peaks (lrc-run --metrics NAME.jsonl in the folder given), and whether its losses
# are within 1e-4 of another run's.
import json
import os


def read(d, name):
    """(losses, measured peak = predicted peak, predicted peak bytes) of run `name`."""
    recs = [json.loads(line) for line in open(os.path.join(d, name + ".jsonl"))]
    losses = [r["loss"] for r in recs if "loss" in r]
    peak = recs[-1]
    return losses, peak["measured_peak_bytes"] == peak["predicted_peak_bytes"], peak["predicted_peak_bytes"]


def close(got, want):
    """Whether the losses `got` are as many as `want` and each within 1e-4 (relative above 1)."""
    return len(got) == len(want) and all(abs(a - b) <= 1e-4 * max(1.0, abs(b)) for a, b in zip(got, want))

"""Stops a run part way, resumes it from its checkpoint and checks that it ends bit for bit
where the uninterrupted run ends (resume.test).

usage: resume.py PLAN WORKDIR C H W kill|int

Trains PLAN (images CxHxW, 10 classes) for STEPS steps on a small npy data set made here
(22 samples: 5 batches of 4 per epoch, so the run goes through many epochs, each in its own
order) three times, in WORKDIR (emptied first):
- the reference: uninterrupted, --save-onnx ref.onnx;
- the stopped run, with --checkpoint and --metrics: `kill` takes --checkpoint-every 7 and is
  killed with SIGKILL after a random step (a checkpoint may be half written then); `int`
  writes no checkpoint before it gets SIGINT after a random step, so the one it resumes from
  is the one the signal writes;
- the resumed run: the same command plus --resume, --save-onnx resumed.onnx.
Checks that the stopped run stopped part way, that the resumed run starts at the checkpoint's
step and runs exactly the steps after it, and that resumed.onnx (every parameter and BatchNorm
statistic) equals ref.onnx byte for byte. Prints one line per check that holds ("ok: ..."),
raises at the first that does not.
"""
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np

STEPS = {"kill": 600, "int": 100}
EVERY = {"kill": 7, "int": 1000}  # --checkpoint-every: `int` writes none before the signal


def read_steps(path):
    """The step numbers of a metrics file (whole lines only)."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return []
    return [int(m) for m in re.findall(r'^\{"step":(\d+),', text, re.M)]


def main():
    plan, work, c, h, w, mode = sys.argv[1:7]
    c, h, w = int(c), int(h), int(w)
    steps = STEPS[mode]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    rng = np.random.default_rng(1)
    x, y = os.path.join(work, "x.npy"), os.path.join(work, "y.npy")
    np.save(x, rng.random((22, c, h, w), dtype=np.float32))
    np.save(y, rng.integers(0, 10, 22, dtype=np.int64))
    path = lambda name: os.path.join(work, name)
    common = ["lrc-run", plan, "--data", f"npy:{x},{y}", "--steps", str(steps), "--threads", "1", "--seed", "3",
              "--lr", "0.05"]
    ck = ["--checkpoint", path("ck"), "--checkpoint-every", str(EVERY[mode])]

    subprocess.run(common + ["--save-onnx", path("ref.onnx")], check=True, stdout=subprocess.DEVNULL)

    stop_after = random.randint(10, steps // 3)
    first = subprocess.Popen(common + ck + ["--metrics", path("m1.jsonl"), "--save-onnx", path("first.onnx")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while len(read_steps(path("m1.jsonl.tmp"))) < stop_after and first.poll() is None:
        time.sleep(0.001)
    first.send_signal(signal.SIGKILL if mode == "kill" else signal.SIGINT)
    err = first.communicate(timeout=120)[1]
    assert not os.path.exists(path("first.onnx")), "the stopped run wrote its model: it was not stopped part way"
    if mode == "kill":
        assert first.returncode == -signal.SIGKILL, f"exit status {first.returncode}, stderr: {err}"
        killed_at = read_steps(path("m1.jsonl.tmp"))[-1]
        print(f"ok: killed by SIGKILL part way (after step {killed_at} of {steps})")
    else:
        assert first.returncode == 130, f"exit status {first.returncode}, stderr: {err}"
        m = re.search(r"interrupted by SIGINT at step (\d+) of \d+: .*; checkpoint of step (\d+) in ", err)
        assert m and m.group(1) == m.group(2), f"stderr: {err}"
        killed_at = int(m.group(1))
        assert read_steps(path("m1.jsonl"))[-1] == killed_at
        print(f"ok: stopped by SIGINT part way, the checkpoint written at the step it stopped ({killed_at} of {steps})")

    resumed = subprocess.run(common + ck + ["--resume", path("ck"), "--metrics", path("m2.jsonl"), "--save-onnx",
                                            path("resumed.onnx")], capture_output=True, text=True)
    assert resumed.returncode == 0, f"exit status {resumed.returncode}, stderr: {resumed.stderr}"
    m = re.search(r"^resumed from .*checkpoint\.lrck: step (\d+), ", resumed.stdout, re.M)
    assert m, resumed.stdout
    start = int(m.group(1))
    if mode == "kill":
        assert start % EVERY[mode] == 0 and EVERY[mode] <= start <= killed_at, f"resumed at {start}, killed after {killed_at}"
        print(f"ok: resumed at the last checkpoint before the kill (step {start})")
    else:
        assert start == killed_at, f"resumed at {start}, stopped at {killed_at}"
        print("ok: resumed at the step the signal stopped")
    assert read_steps(path("m2.jsonl")) == list(range(start + 1, steps + 1)), "the resumed run's steps"
    print("ok: the resumed run ran the steps after it")

    with open(path("ref.onnx"), "rb") as f:
        reference = f.read()
    with open(path("resumed.onnx"), "rb") as f:
        assert f.read() == reference, "the resumed run's model differs from the uninterrupted run's"
    print("ok: the model equals the uninterrupted run's bit for bit")


if __name__ == "__main__":
    main()

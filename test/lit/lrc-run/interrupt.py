"""Interrupts a long lrc-run and checks what it leaves (signals.test).

usage: interrupt.py PLAN WORKDIR SIGNAL [--twice] [--checkpoint]

Starts `lrc-run PLAN --data synthetic` for far more steps than it will run, with --metrics
and --save-onnx in WORKDIR (emptied first), waits for its first progress line, sends SIGNAL
(INT or TERM; --twice: a second one right after; --checkpoint: the run keeps its checkpoint in
WORKDIR) and checks:
- once: the exit status is 128 + the signal's number, stderr is one line naming the signal
  and the step; the metrics file is whole JSON lines: the steps 1..N in order, then
  {"stopped_at_step": N, "reason": "SIG..."}; no model was written; with --checkpoint, stderr
  names the checkpoint of step N and WORKDIR/checkpoint.lrck is there;
- twice: the run may die of the second signal, or may have stopped already on the first;
- always: no *.tmp is left in WORKDIR (a checkpoint being written included).
Prints one line per check that holds ("ok: ..."), raises at the first that does not.
"""
import json
import os
import signal
import subprocess
import sys


def main():
    plan, work, name = sys.argv[1:4]
    twice = "--twice" in sys.argv[4:]
    checkpoint = ["--checkpoint", work] if "--checkpoint" in sys.argv[4:] else []
    sig = {"INT": signal.SIGINT, "TERM": signal.SIGTERM}[name]
    os.makedirs(work, exist_ok=True)
    for f in os.listdir(work):
        os.remove(os.path.join(work, f))
    metrics, model = os.path.join(work, "m.jsonl"), os.path.join(work, "model.onnx")
    run = subprocess.Popen(["lrc-run", plan, "--data", "synthetic", "--steps", "1000000", "--threads", "1",
                            "--metrics", metrics, "--save-onnx", model] + checkpoint,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in run.stdout:
        if line.startswith("step 1/"):
            break
    else:
        raise SystemExit("lrc-run ended before its first step: " + run.stderr.read())
    run.send_signal(sig)
    if twice:
        run.send_signal(sig)
    rest, err = run.communicate(timeout=120)
    left = sorted(f for f in os.listdir(work) if f.endswith(".tmp"))
    assert not left, f"temporaries left: {left}"
    print("ok: no temporary left")
    if twice:
        assert run.returncode in (-sig, 128 + sig), f"exit status {run.returncode}"
        print("ok: ended by the second signal or stopped on the first")
        return

    assert run.returncode == 128 + sig, f"exit status {run.returncode}, stderr: {err}"
    print(f"ok: exit status {run.returncode}")
    lines = err.splitlines()
    assert len(lines) == 1, f"stderr is not one line: {lines}"
    print("stderr: " + lines[0])
    with open(metrics) as f:
        records = [json.loads(line) for line in f]
    steps, last = records[:-1], records[-1]
    assert last["reason"] == "SIG" + name, last
    done = last["stopped_at_step"]
    assert done >= 1 and [r["step"] for r in steps] == list(range(1, done + 1)), records
    assert f"at step {done} of 1000000" in lines[0], lines[0]
    print(f"ok: metrics whole, steps 1..{done} then the stop record")
    assert not os.path.exists(model), "a model was written"
    print("ok: no model written")
    if checkpoint:
        assert f"; checkpoint of step {done} in {work}" in lines[0], lines[0]
        assert os.path.exists(os.path.join(work, "checkpoint.lrck")), "no checkpoint"
        print(f"ok: the checkpoint of step {done} written")


if __name__ == "__main__":
    main()

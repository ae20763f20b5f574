#!/usr/bin/python3
"""lrc-compile's error for a budget nothing fits names the least peak the plan search reaches
and the flags that compile to it (compiler/PlanSearch.h). Checks, for MODEL and FLAGS:
the named flags alone (nothing else from the first command line) compile to the named peak,
byte for byte; a budget of exactly that peak is accepted and gives a plan of that peak; one
byte less is refused and leaves no file. Prints one line per check, True or False.

  smallest_peak.py OUT MODEL [FLAGS...]     (lrc-compile from PATH; OUT: a scratch plan path)
"""
import os
import re
import subprocess
import sys

out, model, flags = sys.argv[1], sys.argv[2], sys.argv[3:]


def compile_(args):
    p = subprocess.run(["lrc-compile", model] + args, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def peak(text):
    m = re.search(r"predicted peak [\d.]+ MiB \((\d+) bytes\)", text)
    return int(m.group(1)) if m else None


rc, text = compile_(flags + ["--memory-budget", "1", "-o", out])
m = re.search(r"the smallest predicted peak for this model and batch is [\d.]+ MiB \((\d+) bytes\), with (.*)$",
              text.strip())
if rc == 0 or not m:
    sys.exit("an impossible budget was not refused as expected:\n" + text)
named, settings = int(m.group(1)), m.group(2).split()
print("named:", " ".join(settings))

rc, text = compile_(settings + ["--emit", "plan"])
print("the named settings compile to the named peak:", rc == 0 and peak(text) == named, peak(text), named)

rc, text = compile_(flags + ["--memory-budget", str(named), "-o", out])
print("a budget of the named peak is accepted:", rc == 0)
print("with a plan of the named peak:", peak(text) == named, peak(text), named)

if os.path.exists(out):
    os.remove(out)
rc, text = compile_(flags + ["--memory-budget", str(named - 1), "-o", out])
print("a budget one byte less is refused, with no file:", rc != 0 and not os.path.exists(out))

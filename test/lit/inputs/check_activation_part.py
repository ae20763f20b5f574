#!/usr/bin/python3
"""Checks lrc-compile's "largest activation part" line (compiler::largestActivationPart)
against the plan text of the same compile (--emit plan -o PLAN): the live bytes of the
training program's buffers whose role is activation, activation-gradient or workspace,
step by step, from the plan's steps alone (a result or scratch is live from the step that
writes it to the last step that reads it; the loss and logits the program outputs to its
end), and their largest sum and first step of it. Prints the summary's and the plan text's
values, and whether they agree.

  check_activation_part.py PLAN SUMMARY
"""
import re
import sys

plan_path, summary_path = sys.argv[1:3]
plan = open(plan_path).read()
summary = open(summary_path).read()

m = re.search(r"largest activation part \(.*?\): [\d.]+ MiB \((\d+) bytes\) at step (\d+) \((.*?)\): "
              r"kept activations [\d.]+ MiB, activation gradients [\d.]+ MiB, workspace [\d.]+ MiB$", summary, re.M)
if not m:
    sys.exit("no largest activation part line in " + summary_path)
said = (int(m.group(1)), int(m.group(2)))

roles, sizes = {}, {}
for index, size, role in re.findall(r"^  #(\d+) \S+ : \S+(?: rows \[\d+,\d+\) of \d+)? at \d+ size (\d+) (\S+)$",
                                    plan, re.M):
    roles[int(index)], sizes[int(index)] = role, int(size)
train = re.search(r"^train \((\d+) steps\):\n((?:  .*\n)*)", plan, re.M)
steps = train.group(2).splitlines()
assert len(steps) == int(train.group(1))
io = re.search(r"^io image=#\d+ labels=#\d+ loss=#(\d+) logits=#(\d+)", plan, re.M)

first, last = {}, {}
for t, line in enumerate(steps):
    code = line.split("  //")[0]
    lhs, _, rhs = code.rpartition(" = ") if " = " in code else ("", "", code)
    for b in re.findall(r"#(\d+)", lhs):
        first.setdefault(int(b), t)
        last[int(b)] = max(last.get(int(b), t), t)
    s = re.search(r"scratch #(\d+)", rhs)
    if s:
        first[int(s.group(1))] = last[int(s.group(1))] = t
    for b in re.findall(r"#(\d+)", rhs.split(" scratch ")[0]):
        if int(b) in first:
            last[int(b)] = t
for out in io.groups():
    if int(out) in first:
        last[int(out)] = len(steps) - 1

counted = ("activation", "activation-gradient", "workspace")
live = [0] * len(steps)
for b, f in first.items():
    if roles[b] in counted:
        for t in range(f, last[b] + 1):
            live[t] += sizes[b]
best = max(live)
found = (best, live.index(best))
print("summary: %d bytes at step %d (%s)" % (said[0], said[1], m.group(3)))
print("plan text: %d bytes at step %d" % found)
print("the summary's is the plan text's:", said == found)

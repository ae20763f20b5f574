#!/usr/bin/python3
"""Checks lrc-compile --memory-plot's SVG (compiler/MemoryPlot.h) against the plan text
(--emit plan -o PLAN) and the --report JSON of the same compile: it parses as XML, its peak
(data-peak-bytes and the label) is the report's predicted peak and the plan's arena, its
rectangles are the training program's buffers of the plan (same places, same sizes, the
category of the plan's role, or strips for band buffers), none overlap another in both ops
and bytes, and the highest reaches the peak. Prints one line per check, True or False, and
whether strips (band buffers) are drawn.

  check_memory_plot.py PLOT.svg PLAN REPORT.json
"""
import collections
import json
import re
import sys
import xml.etree.ElementTree as ET

svg_path, plan_path, report_path = sys.argv[1:4]
NS = "{http://www.w3.org/2000/svg}"
root = ET.parse(svg_path).getroot()  # fails unless it is XML
report = json.load(open(report_path))
plan = open(plan_path).read()
arena = int(re.search(r"^arena (\d+) bytes", plan, re.M).group(1))

peak = int(root.get("data-peak-bytes"))
peak_op = int(root.get("data-peak-op"))
ops = int(root.get("data-ops"))
print("svg root:", root.tag == NS + "svg")
print("peak is the report's predicted peak:", peak == report["predicted_peak_bytes"], peak)
print("peak is the plan's arena:", peak == arena == int(root.get("data-arena-bytes")))
label = [t.text for t in root.iter(NS + "text") if t.get("data-mark") == "peak-label"]
print("the label names the peak and its op:",
      len(label) == 1 and "(%d bytes) at op %d: " % (peak, peak_op) in label[0], label)

rects = [r for r in root.iter(NS + "rect") if r.get("data-category")]
boxes = [(r.get("data-category"), int(r.get("data-offset")), int(r.get("data-bytes")),
          int(r.get("data-first")), int(r.get("data-last"))) for r in rects]
print("the highest rectangle reaches the peak:", max(o + b for _, o, b, _, _ in boxes) == peak)
print("every rectangle lies within the ops:", all(0 <= f <= l < ops for _, _, _, f, l in boxes))
print("the peak op is in the highest rectangle's ops:",
      any(o + b == peak and f <= peak_op <= l for _, o, b, f, l in boxes))

# The plan's buffers of the training program (the eval program's are named eval/...).
categories = {"parameter": "parameters", "constant": "parameters", "optimizer-state": "optimizer-state",
              "input": "inputs-state", "state": "inputs-state", "activation": "kept-activations",
              "activation-gradient": "activation-gradients", "gradient": "parameter-gradients",
              "workspace": "workspace"}
planned = collections.Counter()
for name, band, offset, size, role in re.findall(
        r"^  #\d+ (\S+) : \S+( rows \[\d+,\d+\) of \d+)? at (\d+) size (\d+) (\S+)$", plan, re.M):
    if not name.startswith("eval/") and int(size) > 0:
        planned[("strips" if band else categories[role], int(offset), int(size))] += 1
drawn = collections.Counter((c, o, b) for c, o, b, _, _ in boxes)
print("rectangles are the plan's training buffers:", drawn == planned, len(boxes))

overlap = [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:]
           if a[3] <= b[4] and b[3] <= a[4] and a[1] < b[1] + b[2] and b[1] < a[1] + a[2]]
print("no two rectangles overlap:", not overlap, overlap[:2])
legend = {t.get("data-legend") for t in root.iter(NS + "text") if t.get("data-legend")}
print("the legend names every category drawn:", legend == {c for c, *_ in boxes}, sorted(legend))
strips = sum(1 for c, *_ in boxes if c == "strips")
print("strips:", "yes" if strips else "none")

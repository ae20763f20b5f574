#!/usr/bin/python3
"""Checks lrc-compile --report's JSON (docs/plan-search.md "--report") against what the same
compile printed: the plan text (--emit plan -o PLAN), the summary and --explain table (its
stdout, OUT), and what lrc-compile MODEL SETTINGS --emit rows prints for the settings the
report names. Prints the keys, then one line per check, True or False (figures after it).

  check_report.py REPORT.json PLAN OUT MODEL     (lrc-compile from PATH)
"""
import json
import re
import subprocess
import sys

report_path, plan_path, out_path, model = sys.argv[1:5]
report = json.load(open(report_path))  # fails unless it is JSON
plan = open(plan_path).read()
out = open(out_path).read()
print("keys:", ", ".join(sorted(report)))

header = re.search(r'^plan v\d+ model "(.*)" strategy (\S+)$', plan, re.M)
arena = re.search(r"^arena (\d+) bytes: (.*)$", plan, re.M)
print("strategy is the plan's:", report["strategy"] == header.group(2), report["strategy"])
print("predicted_peak_bytes is the plan's arena:", report["predicted_peak_bytes"] == int(arena.group(1)),
      report["predicted_peak_bytes"])
names = {"parameters": "parameters", "gradients": "parameter_gradients", "optimizer-state": "optimizer_state",
         "activations": "kept_activations", "activation-gradients": "activation_gradients",
         "workspace": "workspace", "state": "batchnorm_state", "inputs": "inputs"}
plan_categories = {names[k]: int(v) for k, v in re.findall(r"([\w-]+) (\d+)", arena.group(2))}
print("peak_by_category is the plan's:", report["peak_by_category"] == plan_categories)

# The summary's row plan line (row plans only) and --explain's chosen line (auto only).
work = re.search(r"work ([\d.]+)x layerwise", out)
if work:
    print("work_vs_layerwise is the summary's:", "%.3f" % report["work_vs_layerwise"] == work.group(1), work.group(1))
chosen = re.search(r"^  \* .*?(\d+\.\d+)x +(\d+\.\d+)x +chosen", out, re.M)
if chosen:
    print("time and work vs layerwise are --explain's:",
          ("%.2f" % report["time_vs_layerwise"], "%.2f" % report["work_vs_layerwise"]) == chosen.groups(),
          chosen.groups())
points = re.search(r"reduction points: (\d+) kept .*?, (\d+) recomputed in strips, (\d+) recomputed whole", out)
if points:
    hows = [p["how"] for p in report["reduction_points"]]
    counts = tuple(hows.count(h) for h in ("kept", "recomputed in strips", "recomputed whole"))
    consistent = all(p["kept"] == (p["how"] == "kept") for p in report["reduction_points"])
    print("reduction_points are the summary's:", consistent and counts == tuple(map(int, points.groups())),
          points.groups())

# The settings are a command line: --emit rows with them lists the report's pipelines.
rows = subprocess.run(["lrc-compile", model] + report["settings"].split() + ["--emit", "rows"],
                      capture_output=True, text=True, check=True).stdout
listed = []
for pid, strategy, strips, bp in re.findall(r"^pipeline (\d+): strategy (\S+), strips (\S+).*? forward / (\S+).*? backward",
                                            rows, re.M):
    if strategy == "?":  # left layer by layer (--keep): no strips
        strategy, strips, bp = "layerwise", "1", "1"
    listed.append({"id": int(pid), "strategy": strategy, "strips": int(strips), "bp_strips": int(bp)})
mine = [{k: p[k] for k in ("id", "strategy", "strips", "bp_strips")} for p in report["pipelines"]]
print("pipelines are --emit rows':", mine == listed, len(listed))

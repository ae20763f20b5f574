#!/usr/bin/env bash
# The main job: builds lrc, then trains the example CNN (examples/fashion_cnn.onnx)
# for one epoch on Fashion-MNIST from the Debian package dataset-fashion-mnist, on the CPU,
# under a memory budget the layerwise plan does not fit:
#   1. compiles the layerwise plan only to read its predicted peak (--report) and sets the
#      budget to 60% of it;
#   2. compiles with --memory-budget: the plan search's table (--explain) says which plan it
#      chose and why, and --memory-plot draws that plan's arena (build/example/memory.svg);
#   3. trains the chosen plan: validation accuracy after the epoch, measured peak arena next
#      to the predicted one;
# and ends with a summary of those figures. Extra arguments go to lrc-run (e.g. --epochs 3).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
data=idx:/usr/share/datasets/fashion-mnist
out=build/example
compile=(build/tools/lrc-compile examples/fashion_cnn.onnx --batch 64 --lr 0.05)
mkdir -p "$out"

# A JSON report's number: json_field FILE KEY
json_field() { /usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

echo "== 1. the layerwise plan (every map whole, kept for the backward)"
"${compile[@]}" --strategy layerwise -o "$out/layerwise.plan" --report "$out/layerwise.json"
layerwise=$(json_field "$out/layerwise.json" predicted_peak_bytes)
budget=$((layerwise * 60 / 100))

echo
echo "== 2. --memory-budget $budget bytes (60% of the layerwise plan's $layerwise): the plan search"
"${compile[@]}" --memory-budget "$budget" --explain -o "$out/fashion_cnn.plan" --report "$out/plan.json" \
  --memory-plot "$out/memory.svg"

echo
echo "== 3. one epoch on Fashion-MNIST with the chosen plan"
build/tools/lrc-run "$out/fashion_cnn.plan" --data "$data" --val "$data" --epochs 1 \
  --metrics "$out/metrics.jsonl" --save-onnx "$out/fashion_cnn_trained.onnx" "$@"

echo
echo "== summary"
/usr/bin/python3 - "$out" "$layerwise" "$budget" <<'EOF'
import json, sys
out, layerwise, budget = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
plan = json.load(open(out + "/plan.json"))
lines = [json.loads(l) for l in open(out + "/metrics.jsonl")]
accuracy = [l["val_accuracy"] for l in lines if "val_accuracy" in l]
peak = [l for l in lines if "measured_peak_bytes" in l][-1]
mib = lambda n: "%.2f MiB" % (n / 2**20)
print("plan:            ", plan["settings"])
print("memory budget:   ", mib(budget), "(%d bytes, 60%% of the layerwise plan's %s)" % (budget, mib(layerwise)))
print("predicted peak:  ", mib(plan["predicted_peak_bytes"]), "(%d bytes, %.0f%% of layerwise; predicted step time %.2fx layerwise's)"
      % (plan["predicted_peak_bytes"], 100 * plan["predicted_peak_bytes"] / layerwise, plan["time_vs_layerwise"]))
print("measured peak:   ", mib(peak["measured_peak_bytes"]), "(%d bytes)" % peak["measured_peak_bytes"])
print("val accuracy:    ", "%.2f%%" % (100 * accuracy[-1]) if accuracy else "none (no epoch finished)")
print("memory picture:  ", out + "/memory.svg")
print("trained model:   ", out + "/fashion_cnn_trained.onnx")
EOF

#include "compiler/RowReport.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <vector>

#include "passes/RowAnalysis.h"

namespace lrc::compiler {

namespace {

std::string range(int64_t a, int64_t b) {
  std::string s = "[";
  s += std::to_string(a);
  s += ",";
  s += std::to_string(b);
  s += ")";
  return s;
}

// `[a0,b0) [a1,b1) ...` from a flattened attribute; `emptyAs` replaces empty ranges when
// given (halos: "-" for none).
std::string strips(const ir::Op& op, const std::string& key, const char* emptyAs = nullptr) {
  if (!op.has(key)) return "";
  const ir::IntList& rows = op.getInts(key);
  std::string s;
  for (size_t i = 0; i + 1 < rows.size(); i += 2) {
    if (!s.empty()) s += " ";
    s += emptyAs && rows[i] == rows[i + 1] ? std::string(emptyAs) : range(rows[i], rows[i + 1]);
  }
  return s;
}

std::string displayName(const ir::Op& op) {
  if (!op.origin.empty()) return op.origin;
  std::string s = "%";
  s += op.result()->name;
  return s;
}

std::string pad(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

// Rows of cells, columns padded to their widest cell, the last one not padded.
std::string table(const std::vector<std::vector<std::string>>& rows, const std::string& indent) {
  std::vector<size_t> width;
  for (const auto& r : rows)
    for (size_t c = 0; c < r.size(); ++c) {
      if (width.size() <= c) width.push_back(0);
      width[c] = std::max(width[c], r[c].size());
    }
  std::string out;
  for (const auto& r : rows) {
    std::string line = indent;
    for (size_t c = 0; c < r.size(); ++c) {
      if (c) line += "  ";
      line += c + 1 < r.size() ? pad(r[c], width[c]) : r[c];
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += "\n";
  }
  return out;
}

}  // namespace

std::string printRowReport(const ir::Module& m, std::string_view strategyOverride) {
  std::map<int64_t, std::vector<const ir::Op*>> pipelines;  // program order within each
  for (const auto& op : m.ops)
    if (op->has("pipeline")) pipelines[op->getInt("pipeline")].push_back(op.get());
  if (pipelines.empty()) return "no row pipelines (no run of row-local ops with a conv or pool)\n";

  // Readers of every value, to find each pipeline's output (defined in it, used outside).
  ir::ValueMap<std::vector<const ir::Op*>> readers;
  for (const auto& op : m.ops)
    for (const ir::Value* v : op->operands) readers[v].push_back(op.get());
  const ir::ValueSet moduleOutputs(m.outputs.begin(), m.outputs.end());

  std::string out;
  for (const auto& [id, ops] : pipelines) {
    const ir::Op& first = *ops.front();
    std::string outputs, recomputed;
    for (const ir::Op* op : ops) {
      const ir::Value* v = op->result();
      bool usedOutside = moduleOutputs.count(v) != 0;
      for (const ir::Op* r : readers[v]) {
        // A recomputed reduction point's statistics read the map from strips (not an output).
        if (passes::isRecomputedPoint(*r)) {
          recomputed += (recomputed.empty() ? ", recomputed reduction points at %" : ", %") + v->name;
          continue;
        }
        usedOutside |= !r->has("pipeline") || r->getInt("pipeline") != id;
      }
      if (!usedOutside) continue;
      if (!outputs.empty()) outputs += ", ";
      outputs += "%";
      outputs += v->name;
      outputs += " : ";
      outputs += v->type.str();
    }
    const std::string strategy =
        !strategyOverride.empty() ? std::string(strategyOverride)
        : first.has("strategy")   ? std::get<std::string>(first.attrs.at("strategy"))
                                  : std::string("?");
    const bool twoPS = strategy == "2ps";
    char work[32];
    std::snprintf(work, sizeof work, "%.3f", first.has("work") ? first.getFloat("work") : 1.0);

    out += "pipeline ";
    out += std::to_string(id);
    out += ": strategy ";
    out += strategy;
    out += ", strips ";
    out += first.has("strips") ? std::to_string(first.getInt("strips")) : std::string("?");
    if (first.has("strips_requested")) {
      out += " (of ";
      out += std::to_string(first.getInt("strips_requested"));
      out += " requested)";
    }
    out += " forward / ";
    out += first.has("bp_strips") ? std::to_string(first.getInt("bp_strips")) : std::string("?");
    if (first.has("bp_strips_requested")) {
      out += " (of ";
      out += std::to_string(first.getInt("bp_strips_requested"));
      out += " requested)";
    }
    out += " backward, ";
    out += std::to_string(ops.size());
    out += " ops, output ";
    out += outputs.empty() ? std::string("none") : outputs;
    out += recomputed;
    out += ", forward work ";
    out += work;
    out += " x layerwise\n";

    std::vector<std::vector<std::string>> fp{{"op", "kind", "height", "forward rows per strip"}};
    if (twoPS) fp[0].push_back("boundary rows from the previous strip");
    std::vector<std::vector<std::string>> bp;
    for (const ir::Op* op : ops) {
      // A loss ending the pipeline (a scalar) has its logits' rows.
      const ir::Value* rowsOf = passes::rowsValue(*op);
      const std::vector<int64_t>& shape = rowsOf->type.shape;
      std::vector<std::string> row{displayName(*op), std::string(ir::opName(op->kind)),
                                   shape.size() > 2 ? std::to_string(shape[2]) : std::string("?"),
                                   strips(*op, "fp_rows")};
      if (twoPS) {
        std::string halo = strips(*op, "fp_halo", "-");
        if (op->has("fp_halo1")) {
          halo += " | skip: ";
          halo += strips(*op, "fp_halo1", "-");
        }
        row.push_back(halo);
      }
      fp.push_back(std::move(row));
      bp.push_back({displayName(*op), strips(*op, "bp_rows")});
    }
    out += table(fp, "  ");
    out += twoPS ? "  backward rows per strip (strips run last to first):\n" : "  backward rows per strip:\n";
    out += table(bp, "    ");
  }
  // The ids --cut takes (passes/RowAnalysis.h cutPointOps), each with the pipeline it is in.
  const std::vector<const ir::Op*> points = passes::cutPointOps(m);
  if (!points.empty()) out += "cut points (--cut IDS ends a segment after each):";
  for (size_t k = 0; k < points.size(); ++k) {
    out += k == 0 ? " " : ", ";
    out += std::to_string(k) + " " + displayName(*points[k]);
    if (points[k]->has("pipeline")) out += " (pipeline " + std::to_string(points[k]->getInt("pipeline")) + ")";
  }
  if (!points.empty()) out += "\n";
  return out;
}

std::vector<PipelineSummary> summarizePipelines(const ir::Module& m, bool layerwise) {
  std::map<int64_t, PipelineSummary> byId;  // by id, as printRowReport
  for (const auto& op : m.ops) {
    if (!op->has("pipeline")) continue;
    PipelineSummary& p = byId[op->getInt("pipeline")];
    p.id = op->getInt("pipeline");
    ++p.ops;
    if (!op->has("strips")) continue;
    p.strategy = layerwise ? "layerwise" : std::get<std::string>(op->attrs.at("strategy"));
    p.strips = op->getInt("strips");
    p.bpStrips = op->getInt("bp_strips");
    p.clamped = op->has("strips_requested") || op->has("bp_strips_requested");
  }
  std::vector<PipelineSummary> list;
  for (auto& [id, p] : byId) {
    if (p.strategy.empty()) p.strategy = "layerwise";
    list.push_back(p);
  }
  return list;
}

}  // namespace lrc::compiler

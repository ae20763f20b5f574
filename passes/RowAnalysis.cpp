#include "passes/RowAnalysis.h"

#include <algorithm>
#include <map>

#include "ir/ShapeInference.h"
#include "ops/Resize.h"
#include "ops/Shapes.h"
#include "ops/Window.h"

namespace lrc::passes {

namespace {

[[noreturn]] void fail(const ir::Op& op, const std::string& what) {
  std::string msg = op.describe();
  msg += ": ";
  msg += what;
  throw ir::Error(msg, op.loc);
}

// Concatenates with += (GCC 12 raises a false -Wrestrict on "literal" + std::string).
template <class... Parts>
std::string cat(const Parts&... parts) {
  std::string s;
  ((s += parts), ...);
  return s;
}

bool is4D(const ir::Value* v) { return v != nullptr && v->type.shape.size() == 4; }

bool mapOperand(const ir::Op& op) { return !op.operands.empty() && is4D(op.operands[0]); }

// A pad that touches only H and W (ONNX order: begins of N, C, H, W, then ends).
bool padsOnlySpatial(const ir::Op& op) {
  if (!op.has("pads")) return false;
  const ir::IntList& p = op.getInts("pads");
  return p.size() == 8 && p[0] == 0 && p[1] == 0 && p[4] == 0 && p[5] == 0;
}

int64_t height(const ir::Value* v) { return v->type.shape[2]; }

RowRange clip(int64_t begin, int64_t end, int64_t h) {
  begin = std::max<int64_t>(begin, 0);
  end = std::min<int64_t>(end, h);
  if (begin >= end) return {0, 0};
  return {begin, end};
}

// The height axis of a sliding window (its end pad is not needed: rows are clipped to the input).
ops::WindowAxis heightWindow(const ir::Op& op) {
  ops::WindowAxis w;
  if (op.kind == ir::OpKind::Conv2d || op.kind == ir::OpKind::ConvTranspose2d) {
    const ir::Value* weight = op.operands.at(1);
    if (weight->type.shape.size() != 4) fail(op, cat("weight must have rank 4, got ", weight->type.str()));
    w.kernel = weight->type.shape[2];
  } else {
    w.kernel = op.getInts("kernel").at(0);
  }
  w.stride = op.getInts("stride").at(0);
  w.padBegin = op.getInts("pad").at(0);
  // AveragePool has no dilation in ONNX opsets <= 18.
  w.dilation = op.has("dilation") ? op.getInts("dilation").at(0) : 1;
  if (w.kernel < 1 || w.stride < 1 || w.dilation < 1 || w.padBegin < 0)
    fail(op, "window needs kernel, stride, dilation >= 1 and pads >= 0");
  return w;
}

}  // namespace

std::string RowRange::str() const {
  std::string s = "[";
  s += std::to_string(begin);
  s += ", ";
  s += std::to_string(end);
  s += ")";
  return s;
}

bool isRowLocal(const ir::Op& op) {
  using ir::OpKind;
  // The table says which kinds can be in a row pipeline at all; an instance is when its maps
  // are 4-D and, for a few kinds, its attributes allow it.
  if (op.kind == OpKind::PixelXent) return mapOperand(op);  // the loss at the end of a pipeline
  if (ops::info(op.kind).role != ops::Role::Forward || ops::info(op.kind).rowRule == ops::RowRule::None) return false;
  if (op.kind == OpKind::Pad) return mapOperand(op) && padsOnlySpatial(op);
  if (op.kind == OpKind::BatchNorm)  // frozen, or per-strip statistics (--bn strip)
    return mapOperand(op) && op.has("training") && (op.getInt("training") == 0 || op.has("strip_stats"));
  if (ops::isBinaryElementwise(op.kind)) {
    if (op.operands.size() != 2 || op.results.empty() || !is4D(op.result())) return false;
    const auto& y = op.result()->type.shape;
    bool anyMap = false;
    for (const ir::Value* x : op.operands) {
      const bool map = x->type.shape == y;
      if (!map && !ops::isRowBroadcast(x->type.shape, y)) return false;
      anyMap |= map;
    }
    return anyMap;
  }
  // Along channels: the same rows of every operand (concat: of equal N, H and W, which its
  // shape rule checks) give the same rows of the result.
  if (op.kind == OpKind::LayerNorm) return mapOperand(op) && op.getInt("end") == 2;  // over the channels only
  if (op.kind == OpKind::Concat || op.kind == OpKind::Slice)
    return op.has("axis") && op.getInt("axis") == 1 &&
           std::all_of(op.operands.begin(), op.operands.end(), [](const ir::Value* v) { return is4D(v); });
  return mapOperand(op);
}

bool isRowIndexed(const ir::Op& op, size_t operand) {
  if (static_cast<int64_t>(operand) >= ops::info(op.kind).bandOperands || operand >= op.operands.size()) return false;
  if (!ops::isBinaryElementwise(op.kind) || op.results.empty()) return true;
  return op.operands[operand]->type.shape == op.result()->type.shape;
}

RowRange inputRows(const ir::Op& op, size_t operand, RowRange out) {
  using ir::OpKind;
  if (!isRowLocal(op)) fail(op, "is not row-local: it has no row dependency");
  if (operand >= op.operands.size())
    fail(op, cat("has no operand ", std::to_string(operand)));
  if (!isRowIndexed(op, operand))
    fail(op, cat("operand ", std::to_string(operand), " (", op.operands[operand]->type.str(),
                 ") is a parameter, not a row-indexed map"));
  if (out.empty()) return {0, 0};
  const int64_t outH = op.results.empty() || op.result()->type.shape.size() != 4 ? -1 : height(op.result());
  if (out.begin < 0 || (outH >= 0 && out.end > outH)) {
    fail(op, cat("output rows ", out.str(), " are outside the result's rows [0, ", std::to_string(outH), ")"));
  }
  const int64_t inH = height(op.operands[operand]);
  switch (ops::info(op.kind).rowRule) {
    case ops::RowRule::Window: {
      const auto [begin, end] = ops::windowInputRows(heightWindow(op), out.begin, out.end, inH);
      return {begin, end};
    }
    case ops::RowRule::Transposed: {
      const auto [begin, end] = ops::transposedInputRows(heightWindow(op), out.begin, out.end, inH);
      return {begin, end};
    }
    case ops::RowRule::Resize: {
      const auto [begin, end] = ops::resizeInputRows(ir::resizeAxes(op).h, out.begin, out.end);
      return {begin, end};
    }
    case ops::RowRule::Pad: {
      const int64_t top = op.getInts("pads")[2];
      return clip(out.begin - top, out.end - top, inH);
    }
    case ops::RowRule::Same: return clip(out.begin, out.end, inH);
    case ops::RowRule::None: break;
  }
  fail(op, "has no row rule");
}

const ir::Value* rowsValue(const ir::Op& op) {
  return op.kind == ir::OpKind::PixelXent ? op.operands.at(0) : op.result();
}

bool isDownsamplingWindow(const ir::Op& op) {
  const bool window = op.kind == ir::OpKind::Conv2d || op.kind == ir::OpKind::MaxPool || op.kind == ir::OpKind::AveragePool;
  return window && op.getInts("stride").at(0) > 1;
}

std::vector<const ir::Op*> cutPointOps(const ir::Module& m) {
  std::vector<const ir::Op*> points;
  for (const auto& op : m.ops) {
    if (ops::isLoss(op->kind)) break;
    if (isDownsamplingWindow(*op)) points.push_back(op.get());
  }
  return points;
}

bool isRowPlanAttr(std::string_view name) {
  static const std::string_view kNames[] = {"pipeline",         "fp_rows",   "fp_halo",   "fp_halo1",
                                            "bp_rows",          "strategy",  "strips",    "bp_strips",
                                            "strips_requested", "bp_strips_requested",   "work",
                                            "reuse_last",       "strip_stats", "recompute"};
  return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}

size_t lossPosition(const ir::Module& m) {
  size_t first = 0;
  while (first < m.ops.size() && !ops::isLoss(m.ops[first]->kind)) ++first;
  if (first == m.ops.size() || m.outputs.empty() || !m.outputs[0]->def) return first;
  for (size_t i = first; i < m.ops.size(); ++i)
    if (m.ops[i].get() == m.outputs[0]->def) return i;
  return first;
}

bool isReductionPoint(const ir::Op& op) {
  if (op.kind == ir::OpKind::BatchNormStats || op.kind == ir::OpKind::GlobalAvgPool) return true;
  return op.kind == ir::OpKind::ReduceMean && op.operands[0]->type.shape.size() == 4 && op.getInts("axes") == ir::IntList{2, 3} &&
         op.getInt("keepdims") != 0 && !(op.has("sum") && op.getInt("sum") != 0);
}

bool isRecomputedPoint(const ir::Op& op) { return op.has("recompute") && isReductionPoint(op); }

std::map<const ir::Op*, const ir::Op*> pointGates(const ir::Module& m) {
  std::map<const ir::Op*, const ir::Op*> gates;
  std::map<const ir::Value*, const ir::Op*> owner;  // value -> the point it is computed from
  for (const auto& op : m.ops) {
    if (ops::isLoss(op->kind)) break;
    if (isRecomputedPoint(*op)) {
      for (const ir::Value* r : op->results) owner[r] = op.get();
      continue;
    }
    if (ops::info(op->kind).role != ops::Role::Forward) continue;
    const ir::Op* point = nullptr;
    bool gate = true;
    for (const ir::Value* v : op->operands) {
      if (v->isGlobal()) continue;
      auto it = owner.find(v);
      gate = gate && it != owner.end() && (!point || point == it->second);
      if (it != owner.end()) point = it->second;
    }
    if (!gate || !point) continue;
    gates[op.get()] = point;
    for (const ir::Value* r : op->results) owner[r] = point;
  }
  return gates;
}

RowRange hull(RowRange a, RowRange b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return {std::min(a.begin, b.begin), std::max(a.end, b.end)};
}

RowRange intersect(RowRange a, RowRange b) {
  RowRange r{std::max(a.begin, b.begin), std::min(a.end, b.end)};
  return r.empty() ? RowRange{0, 0} : r;
}

bool holds(RowRange outer, RowRange inner) {
  return inner.empty() || (outer.begin <= inner.begin && inner.end <= outer.end);
}

}  // namespace lrc::passes

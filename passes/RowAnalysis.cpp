#include "passes/RowAnalysis.h"

#include <algorithm>

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

// The height axis of a sliding window: kernel, stride, top pad, dilation.
struct Window {
  int64_t kernel, stride, padTop, dilation;
};

Window heightWindow(const ir::Op& op) {
  Window w{};
  if (op.kind == ir::OpKind::Conv2d) {
    const ir::Value* weight = op.operands.at(1);
    if (weight->type.shape.size() != 4) fail(op, cat("weight must have rank 4, got ", weight->type.str()));
    w.kernel = weight->type.shape[2];
  } else {
    w.kernel = op.getInts("kernel").at(0);
  }
  w.stride = op.getInts("stride").at(0);
  w.padTop = op.getInts("pad").at(0);
  // AveragePool has no dilation in ONNX opsets <= 18.
  w.dilation = op.has("dilation") ? op.getInts("dilation").at(0) : 1;
  if (w.kernel < 1 || w.stride < 1 || w.dilation < 1 || w.padTop < 0)
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
  switch (op.kind) {
    case OpKind::Conv2d:
    case OpKind::Relu:
    case OpKind::MaxPool:
    case OpKind::AveragePool:
    case OpKind::Dropout:
    case OpKind::Identity: return mapOperand(op);
    case OpKind::Pad: return mapOperand(op) && padsOnlySpatial(op);
    case OpKind::BatchNorm:
      // Frozen, or per-strip statistics (--bn strip).
      return mapOperand(op) && op.has("training") && (op.getInt("training") == 0 || op.has("strip_stats"));
    case OpKind::Add:
      return op.operands.size() == 2 && is4D(op.operands[0]) && is4D(op.operands[1]) &&
             op.operands[0]->type.shape == op.operands[1]->type.shape;
    // Whole-map ops end a pipeline.
    case OpKind::GlobalAvgPool:
    case OpKind::Flatten:
    case OpKind::Reshape:
    case OpKind::Gemm:
    case OpKind::MatMul:
    case OpKind::Softmax:
    // Training ops: the row plan's backward comes from its forward pipeline.
    case OpKind::SoftmaxXent:
    case OpKind::SoftmaxXentGrad:
    case OpKind::Conv2dGradInput:
    case OpKind::Conv2dGradWeight:
    case OpKind::ChannelSum:
    case OpKind::ReluGrad:
    case OpKind::MaxPoolGrad:
    case OpKind::AveragePoolGrad:
    case OpKind::GlobalAvgPoolGrad:
    case OpKind::BatchNormGrad:
    case OpKind::DropoutGrad:
    case OpKind::SumTo:
    case OpKind::SgdUpdate:
    // Row-plan ops: made by lower-row-pipelines from pipelines, never fused again.
    case OpKind::RowsCopy:
    case OpKind::RowsSum:
    case OpKind::PipelineGrad: return false;
  }
  return false;
}

RowRange inputRows(const ir::Op& op, size_t operand, RowRange out) {
  using ir::OpKind;
  if (!isRowLocal(op)) fail(op, "is not row-local: it has no row dependency");
  if (operand >= op.operands.size())
    fail(op, cat("has no operand ", std::to_string(operand)));
  const bool rowIndexed = operand == 0 || (op.kind == OpKind::Add && operand == 1);
  if (!rowIndexed)
    fail(op, cat("operand ", std::to_string(operand), " (", op.operands[operand]->type.str(),
                 ") is a parameter, not a row-indexed map"));
  if (out.empty()) return {0, 0};
  const int64_t outH = op.results.empty() || op.result()->type.shape.size() != 4 ? -1 : height(op.result());
  if (out.begin < 0 || (outH >= 0 && out.end > outH)) {
    fail(op, cat("output rows ", out.str(), " are outside the result's rows [0, ", std::to_string(outH), ")"));
  }
  const int64_t inH = height(op.operands[operand]);
  switch (op.kind) {
    case OpKind::Conv2d:
    case OpKind::MaxPool:
    case OpKind::AveragePool: {
      const Window w = heightWindow(op);
      return clip(out.begin * w.stride - w.padTop,
                  (out.end - 1) * w.stride - w.padTop + w.dilation * (w.kernel - 1) + 1, inH);
    }
    case OpKind::Pad: {
      const int64_t top = op.getInts("pads")[2];
      return clip(out.begin - top, out.end - top, inH);
    }
    default: return clip(out.begin, out.end, inH);  // element-wise
  }
}

bool isRowPlanAttr(std::string_view name) {
  static const std::string_view kNames[] = {"pipeline",         "fp_rows",   "fp_halo",   "fp_halo1",
                                            "bp_rows",          "strategy",  "strips",    "bp_strips",
                                            "strips_requested", "bp_strips_requested",   "work",
                                            "reuse_last",       "strip_stats"};
  return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
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

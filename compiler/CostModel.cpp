#include "compiler/CostModel.h"

namespace lrc::compiler {

namespace {

using ir::OpKind;

// Rows of dy a backward op propagates (its `rows`, else all dy holds), or of the result.
int64_t rowsOf(const ir::Op& op, const ir::Value* map) {
  if (op.has("rows")) return op.getInts("rows").at(1) - op.getInts("rows").at(0);
  return map->type.shape.at(2);
}

// Multiply-adds of a convolution producing (or propagating) `rows` rows of `map` [N, Co, *, OW]
// with weight `w` [Co, Ci/g, kh, kw].
double convMacs(const ir::Value* map, int64_t rows, const ir::Value* w) {
  const auto& m = map->type.shape;
  const auto& k = w->type.shape;
  return static_cast<double>(m.at(0)) * static_cast<double>(rows) * static_cast<double>(m.at(3)) *
         static_cast<double>(k.at(0) * k.at(1) * k.at(2) * k.at(3));
}

}  // namespace

double workUnits(const ir::Op& op) {
  switch (op.kind) {
    case OpKind::Conv2d: return convMacs(op.result(), rowsOf(op, op.result()), op.operands[1]);
    case OpKind::Conv2dGradInput: return convMacs(op.operands[0], rowsOf(op, op.operands[0]), op.operands[1]);
    case OpKind::Conv2dGradWeight: return convMacs(op.operands[0], rowsOf(op, op.operands[0]), op.result());
    case OpKind::Gemm:
    case OpKind::MatMul: {
      const auto& a = op.operands[0]->type.shape;
      const auto& y = op.result()->type.shape;
      const bool transA = op.kind == OpKind::Gemm && op.getInt("transA") != 0;
      return static_cast<double>(y.at(0)) * static_cast<double>(y.at(1)) * static_cast<double>(transA ? a.at(0) : a.at(1));
    }
    default: {
      double elements = 0;
      for (const ir::Value* v : op.operands) elements += static_cast<double>(v->type.numElements());
      for (const ir::Value* v : op.results) elements += static_cast<double>(v->type.numElements());
      return elements;
    }
  }
}

double predictSeconds(const ir::Module& m, const CostTable& table) {
  double seconds = 0;
  for (const auto& op : m.ops) {
    auto it = table.kernels.find(std::string(ir::opName(op->kind)));
    const KernelCost& c = it == table.kernels.end() ? table.fallback : it->second;
    seconds += c.perUnit * workUnits(*op) + c.perCall;
  }
  return seconds;
}

const CostTable& cpuCostTable() {
  // Placeholder constants (GEMM-bound ops at about 90 GFLOP/s, memory-bound ops at about
  // 1 float per ns) until bench/calibrate.py's are pasted here.
  static const CostTable table = {
      "cpu",
      "placeholder",
      {
          {"conv2d", {1.0 / 45e9, 2e-6}},
          {"conv2d_grad_input", {1.0 / 45e9, 2e-6}},
          {"conv2d_grad_weight", {1.0 / 45e9, 2e-6}},
          {"gemm", {1.0 / 30e9, 2e-6}},
          {"matmul", {1.0 / 30e9, 2e-6}},
      },
      {1e-9, 1e-6},
  };
  return table;
}

}  // namespace lrc::compiler

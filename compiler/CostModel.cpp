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
    std::string kernel(ir::opName(op->kind));
    if ((op->kind == OpKind::BatchNorm || op->kind == OpKind::BatchNormGrad) && op->getInt("training") != 0)
      kernel += ":training";
    auto it = table.kernels.find(kernel);
    const KernelCost& c = it == table.kernels.end() ? table.fallback : it->second;
    seconds += c.perUnit * workUnits(*op) + c.perCall;
  }
  return seconds;
}

const CostTable& cpuCostTable() {
  // bench/calibrate.py on the project's 2-vCPU machine, one thread, 2026-11-26 (VGG-16 and
  // ResNet-50 at batch 2, layerwise, 2PS and OverL with 4 strips, exact and frozen
  // BatchNorm): whole-plan step times predicted to 4.3% on average (max 9.7%), 5.8% for
  // plans left out of the fit (docs/benchmarks.md). BatchNorm in training mode (batch
  // statistics) has its own constants: it costs 2-4x frozen BatchNorm per float.
  static const CostTable table = {
      "cpu",
      "bench/calibrate.py, 2026-11-26",
      {
          {"add", {1.724e-10, 3.272e-05}},
          {"avgpool", {5.283e-10, 0}},
          {"avgpool_grad", {1.258e-09, 0}},
          {"batchnorm", {1.567e-10, 4.737e-08}},
          {"batchnorm:training", {5.854e-10, 0}},
          {"batchnorm_grad", {6.521e-10, 0}},
          {"batchnorm_grad:training", {1.452e-09, 0}},
          {"channel_sum", {1.26e-09, 0}},
          {"conv2d", {1.69e-11, 0.0002671}},
          {"conv2d_grad_input", {1.64e-11, 0.0003132}},
          {"conv2d_grad_weight", {1.585e-11, 0.0002441}},
          {"dropout", {2.868e-09, 0}},
          {"dropout_grad", {2.825e-09, 0}},
          {"flatten", {5.987e-10, 0}},
          {"gemm", {4.482e-10, 0}},
          {"global_avgpool", {3.391e-10, 0}},
          {"global_avgpool_grad", {4.771e-10, 0}},
          {"matmul", {4.482e-10, 0}},  // not in the calibration plans: gemm's
          {"maxpool", {3.304e-09, 0}},
          {"maxpool_grad", {1.871e-09, 0}},
          {"relu", {2.588e-10, 0}},
          {"relu_grad", {1.077e-09, 0}},
          {"reshape", {2.908e-10, 0}},
          {"rows_copy", {3.988e-10, 0}},
          {"rows_sum", {3.343e-10, 0}},
          {"sgd_update", {3.38e-10, 0}},
          {"softmax_xent", {9.393e-09, 0}},
          {"softmax_xent_grad", {5.194e-09, 0}},
          {"sum_to", {1.824e-09, 2.245e-06}},
      },
      // Every memory-bound kernel fitted together.
      {3.448e-10, 8.143e-05},
  };
  return table;
}

}  // namespace lrc::compiler

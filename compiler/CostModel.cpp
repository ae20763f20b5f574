#include "compiler/CostModel.h"

#include "compiler/Work.h"

namespace lrc::compiler {

using ir::OpKind;

double workUnits(const ir::Op& op) {
  switch (op.kind) {
    case OpKind::Conv2d:
    case OpKind::Conv2dGradInput:
    case OpKind::Conv2dGradWeight:
    case OpKind::ConvTranspose2d:
    case OpKind::ConvTranspose2dGradInput:
    case OpKind::ConvTranspose2dGradWeight:
    case OpKind::Gemm:
    case OpKind::MatMul: return static_cast<double>(multiplyAdds(op));
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
          // The split training BatchNorm (issue 12), not in the calibration plans yet: the
          // constants of the kernels doing the same passes (statistics: training batchnorm's
          // pass; apply: frozen batchnorm; apply_grad: frozen batchnorm_grad; stats_grad: the
          // memory-bound fit).
          {"batchnorm_stats", {5.854e-10, 0}},
          {"batchnorm_apply", {1.567e-10, 4.737e-08}},
          {"batchnorm_apply_grad", {6.521e-10, 0}},
          {"batchnorm_stats_grad", {3.448e-10, 0}},
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

// The cost model of issue 5: a training step's predicted time from its ops. Each op has a
// work unit (conv2d, conv2d_grad_input, conv2d_grad_weight: multiply-adds over the rows it
// computes or propagates; gemm, matmul: M*N*K; every other op: the floats it reads plus
// writes), and each kernel kind two constants measured on the backend by
// bench/calibrate.py: seconds per unit and seconds per call (so very thin strips are not
// free). Peak memory needs no model: the memory planner's arena is exact.
#pragma once

#include <map>
#include <string>

#include "ir/IR.h"

namespace lrc::compiler {

struct KernelCost {
  double perUnit = 0;  // seconds per work unit
  double perCall = 0;  // seconds per call
};

struct CostTable {
  std::string backend;                       // "cpu"
  std::string source;                        // how the constants were measured
  std::map<std::string, KernelCost> kernels;  // by IR op name; "<name>:training" for training-mode BatchNorm
  KernelCost fallback;                       // kernels the calibration did not see
};

// The CPU backend's constants (bench/calibrate.py on the project's machine, one thread).
const CostTable& cpuCostTable();

// The work unit of one op (see above).
double workUnits(const ir::Op& op);

// Predicted seconds of one run of `m`'s ops.
double predictSeconds(const ir::Module& m, const CostTable& table);

}  // namespace lrc::compiler

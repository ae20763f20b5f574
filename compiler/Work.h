// The arithmetic of a program: multiply-adds of its convolutions and matrix products, the
// ops that dominate a CNN training step. Row plans are counted as lowered, so recompute
// (2PS, OverL) and halo rows (OverL) show up; `lrc-compile` reports a row plan's work
// relative to the layerwise plan's.
#pragma once

#include <cstdint>

#include "ir/IR.h"

namespace lrc::compiler {

// Multiply-adds of conv2d, conv2d_grad_input, conv2d_grad_weight (each over the rows it
// computes or propagates: a band's rows, or `rows=[a,b]`), the conv_transpose2d kinds (over
// the rows of their input-shaped map they cover), gemm and matmul.
int64_t multiplyAdds(const ir::Module& m);

// The same for one op; 0 for every other kind.
int64_t multiplyAdds(const ir::Op& op);

}  // namespace lrc::compiler

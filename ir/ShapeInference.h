// Result types of an op from its operand types and attributes (ONNX semantics).
#pragma once

#include <vector>

#include "ir/IR.h"
#include "ops/Shapes.h"

namespace lrc::ir {

// Throws ir::Error (at the op's location, naming the op) when operands or attributes are
// inconsistent: wrong rank, channel mismatch, window larger than the padded input, ...
std::vector<TensorType> inferResultTypes(const Op& op);

// The spatial axes of a resize or resize_grad op (ops::resizeAxes over its input map); errors
// name the op.
ops::ResizeAxes resizeAxes(const Op& op);

// Output extent of a sliding window along one axis (ONNX Conv/MaxPool/AveragePool).
int64_t slidingOutputSize(int64_t in, int64_t kernel, int64_t stride, int64_t padBegin,
                          int64_t padEnd, int64_t dilation, bool ceilMode);

}  // namespace lrc::ir

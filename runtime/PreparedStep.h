// Reading a validated plan's step attributes, shared by the plan checks and the backends so
// that both read a step the same way.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "runtime/kernels/Conv.h"
#include "runtime/kernels/Pad.h"
#include "runtime/kernels/Pool.h"
#include "runtime/plan/Plan.h"

namespace lrc::runtime {

// ---- Step attributes of a validated plan (std::runtime_error when one is missing) ----

const plan::Attr* findAttr(const plan::Step& step, std::string_view name);
int64_t attrInt(const plan::Step& step, std::string_view name);
double attrFloat(const plan::Step& step, std::string_view name);  // ints are read as numbers too
std::vector<int64_t> attrInts(const plan::Step& step, std::string_view name);

// Whether a step runs on rows (docs/plan-format.md, "Row bands"): an operand or result is a
// band, or the step has the attribute `rows`. Otherwise it runs on whole tensors.
bool runsOnRows(const plan::Plan& plan, const plan::Step& step);

// Kernel parameters from a step's attributes (IR conventions: pad = [top, left, bottom,
// right], stride/dilation/kernel = [h, w]). Convolution kernel sizes come from the weight.
kernels::Conv2dParams convParams(const plan::Step& step, int64_t kernelH, int64_t kernelW);
kernels::Pool2dParams poolParams(const plan::Step& step, bool average);
kernels::PadParams padParams(const plan::Step& step);

// ONNX's BatchNormalization momentum (the weight of the old running value) as the kernels'
// PyTorch momentum (the weight of the batch statistic).
inline float pytorchMomentum(double onnxMomentum) { return static_cast<float>(1.0 - onnxMomentum); }

}  // namespace lrc::runtime

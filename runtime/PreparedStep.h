// A plan step decoded once, before any step runs (after Glow's compile step and ggml's graph
// plan): its kernel as a runtime::Kernel, its operands, results and scratch with their arena
// offsets, shapes and band geometry, and its attributes as the kernel's parameter struct
// (runtime/kernels/). Backends run prepared steps: the step loop matches no names and reads
// no attributes. Also the readers of step attributes that preparation and the plan checks
// (runtime/PlanChecks.cpp) share, so both read a step the same way.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>
#include <vector>

#include "ops/Shapes.h"
#include "runtime/Backend.h"
#include "runtime/Collective.h"
#include "runtime/kernels/AxisCopy.h"
#include "runtime/kernels/BatchNorm.h"
#include "runtime/kernels/Binary.h"
#include "runtime/kernels/LayerNorm.h"
#include "runtime/kernels/Conv.h"
#include "runtime/kernels/Dense.h"
#include "runtime/kernels/Dropout.h"
#include "runtime/kernels/Pad.h"
#include "runtime/kernels/PixelXent.h"
#include "runtime/kernels/Pool.h"
#include "runtime/kernels/Resize.h"
#include "runtime/kernels/RowBand.h"
#include "runtime/kernels/Unary.h"
#include "runtime/kernels/Strided.h"
#include "runtime/plan/Plan.h"

namespace lrc::runtime {

using Shape = std::vector<int64_t>;

inline int64_t elementsOf(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// An operand, result or scratch of a step: a plan buffer's place in the arena, its shape and,
// for a row band (plan.proto: height > 0), the rows [row0, row0 + shape[2]) of a map of
// `height` rows.
struct StepBuffer {
  uint64_t offset = 0, bytes = 0;
  Shape shape;
  int64_t row0 = 0, height = 0;
};

// A step's decoded attributes: the parameter struct of its kernel, or none (kernels whose
// sizes are their buffers' shapes: add, sum_to, flatten, reshape, rows_copy, ...). Every
// unary kernel (runtime/kernels/Unary.h) has a UnaryParams, zeros for those without parameters.
using StepParams = std::variant<std::monostate, kernels::Conv2dParams, kernels::Pool2dParams, kernels::ResizeParams,
                                kernels::PadParams,
                                kernels::GemmParams, kernels::BatchNormParams, kernels::LayerNormParams, kernels::DropoutParams,
                                kernels::SoftmaxParams, kernels::AxisParams, kernels::UnaryParams,
                                kernels::BinaryGradParams, kernels::ReduceMeanParams, kernels::TransposeParams,
                                kernels::PixelXentParams, CollectiveParams>;

struct PreparedStep {
  Kernel kernel = Kernel::Identity;
  std::vector<StepBuffer> inputs, outputs;
  std::optional<StepBuffer> scratch;
  // Whether the step runs on rows (runsOnRows); otherwise the whole-tensor paths apply.
  bool byRows = false;
  // A backward step's attribute `rows`: the rows of its output gradient it propagates.
  std::optional<kernels::RowRange> rows;
  // The accumulating form of a weight-gradient kernel (attribute accumulate=1,
  // ops::canAccumulate): outputs[0] is the step's last operand, which the kernel adds into
  // instead of overwriting (no clearing, GEMM beta 1).
  bool accumulate = false;
  StepParams params;
};

// Both programs of a plan, prepared.
struct PreparedPlan {
  std::vector<PreparedStep> train, eval;
};

// Decodes a step (or every step) of a plan that passed validatePlan (runtime/PlanChecks.h);
// std::runtime_error on what validation rejects.
PreparedStep prepareStep(const plan::Plan& plan, const plan::Step& step);
PreparedPlan preparePlan(const plan::Plan& plan);

// ---- Step attributes of a validated plan (std::runtime_error when one is missing) ----

const plan::Attr* findAttr(const plan::Step& step, std::string_view name);
int64_t attrInt(const plan::Step& step, std::string_view name);
double attrFloat(const plan::Step& step, std::string_view name);  // ints are read as numbers too
std::vector<int64_t> attrInts(const plan::Step& step, std::string_view name);

// A step's attributes as the shared shape rules read them (ops::AttrReader): the plan
// checks' types and the parameters built from the rules (resize) read them alike. Errors are
// ops::ShapeError naming the attribute.
class StepAttrs : public ops::AttrReader {
 public:
  explicit StepAttrs(const plan::Step& step) : step_(step) {}
  bool has(std::string_view key) const override { return findAttr(step_, key) != nullptr; }
  int64_t integer(std::string_view key) const override;
  std::vector<int64_t> ints(std::string_view key) const override;
  double number(std::string_view key) const override;
  std::vector<double> numbers(std::string_view key) const override;

 private:
  const plan::Attr& get(std::string_view key) const;
  const plan::Step& step_;
};

// Whether a step is the accumulating form of its kernel (attribute accumulate=1), and the step
// as the kernel's checks and arguments see it: its last operand, the tensor it adds into, as
// its one result (the plan lists it as an operand: it persists and is updated in place).
// accumulates() is false for a malformed attribute, which the plan checks refuse.
bool accumulates(const plan::Step& step);
plan::Step asKernelSees(const plan::Step& step);

// Whether a step runs on rows (docs/plan-format.md, "Row bands"): an operand or result is a
// band, or the step has the attribute `rows`. Otherwise it runs on whole tensors.
bool runsOnRows(const plan::Plan& plan, const plan::Step& step);

// Kernel parameters from a step's attributes (IR conventions: pad = [top, left, bottom,
// right], stride/dilation/kernel = [h, w]). Convolution kernel sizes come from the weight.
kernels::Conv2dParams convParams(const plan::Step& step, int64_t kernelH, int64_t kernelW);
kernels::Pool2dParams poolParams(const plan::Step& step, bool average);
kernels::PadParams padParams(const plan::Step& step);
// resize (x = the input map's shape) and resize_grad (x = its `input_shape`).
kernels::ResizeParams resizeParams(const plan::Step& step, const Shape& x);

}  // namespace lrc::runtime

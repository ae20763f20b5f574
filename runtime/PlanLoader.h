// Loading a plan file and checking everything in it before anything runs (SPEC.md §4): a
// corrupt, truncated or inconsistent plan is a one-line error naming the plan and the
// buffer or step, never a crash (the weights' checksum is checked when the Executor streams
// them into its arena, also before any step). Also the readers of step attributes that the loader and
// the backends share, so both read a step the same way.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/Backend.h"
#include "runtime/kernels/Conv.h"
#include "runtime/kernels/Pad.h"
#include "runtime/kernels/Pool.h"
#include "runtime/plan/Plan.h"
#include "runtime/plan/PlanFile.h"

namespace lrc::runtime {

// Opens a plan file, reads and decodes its payload (framing, sizes against the file's size,
// the payload's checksum) and validates it against the file's weights section; throws
// std::runtime_error with a one-line message that starts with `path`. The weights stay in the
// file: the Executor streams them into its arena and checks their checksum there.
plan::PlanFile loadPlan(const std::string& path, const Backend& backend);

// Checks a decoded plan whose weights section holds `weightsBytes` bytes (the list is in
// docs/plan-format.md, "Validation on load"): buffers (dtype, positive dims, bytes, 64-byte
// alignment, inside the arena), each step of both programs (kernel supported by `backend`,
// indices, operand and result counts, attributes and their arity, dtypes and shapes
// consistent with the kernel, scratch large enough, no result overlapping an operand, no
// read of a buffer nothing wrote), the io buffers, the inits (of global buffers only, once
// each, not overlapping in the arena, exactly the buffer's bytes from an increasing,
// non-overlapping range inside the weights section, or zeros) and the optimizer. Throws
// std::runtime_error("PATH: ...").
void validatePlan(const plan::Plan& plan, uint64_t weightsBytes, const std::string& path, const Backend& backend);

// The batch and image shape and the classes of a validated plan.
struct IoShape {
  int64_t batch = 0, channels = 0, height = 0, width = 0, classes = 0;
};
IoShape ioShape(const plan::Plan& plan);

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

// The scratch a kernel needs while it runs, once: plan-memory sizes it into the plan, the
// plan loader checks a plan gives at least that, the CPU kernels use exactly that.
#pragma once

#include <cstdint>

#include "ops/Checked.h"
#include "ops/Window.h"

namespace lrc::ops {

// A 1x1, stride-1, unpadded convolution: the input band's rows are its column matrix, and it
// needs no im2col (nor workspace).
constexpr bool convIsDirect(const WindowAxis& h, const WindowAxis& w) {
  return h.kernel == 1 && w.kernel == 1 && h.stride == 1 && w.stride == 1 && h.padBegin == 0 && h.padEnd == 0 &&
         w.padBegin == 0 && w.padEnd == 0;
}

// Floats of the im2col matrix of one image and one group for `outRows` output rows of width
// `outW` with C input channels: (C / group) * kH * kW * outRows * outW; none when direct.
// Checked: the factors come from plans and models, and their product is bounded by nothing.
constexpr Checked convWorkspaceFloats(const WindowAxis& h, const WindowAxis& w, int64_t group, int64_t C,
                                      int64_t outW, int64_t outRows) {
  if (convIsDirect(h, w) || group < 1) return 0;
  return Checked(C / group) * h.kernel * w.kernel * outRows * outW;
}

// Training-mode BatchNorm: forward keeps the batch mean and inverse std (float) per channel;
// the gradient recomputes a sum and a sum of squares (double), then mean and inverse std.
constexpr Checked batchNormScratchBytes(bool grad, int64_t channels) { return Checked(grad ? 24 : 8) * channels; }

}  // namespace lrc::ops

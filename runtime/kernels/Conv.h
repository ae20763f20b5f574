// Parameters of a 2-D convolution, shared by the plan loader and both backends.
#pragma once

#include <cstdint>

#include "runtime/kernels/Window.h"

namespace lrc::kernels {

// Weights are [K][C / group][kernelH][kernelW], bias is [K]; input N x C x H x W, output
// N x K x OH x OW with OH = window_output_size(h, H), OW = window_output_size(w, W).
struct Conv2dParams {
  WindowAxis h, w;
  int64_t group = 1;
};

// A 1x1, stride-1, unpadded convolution: the input band's rows are its column matrix, and it
// needs no im2col (nor workspace).
inline bool conv2d_is_direct(const Conv2dParams& p) {
  return p.h.kernel == 1 && p.w.kernel == 1 && p.h.stride == 1 && p.w.stride == 1 && p.h.padBegin == 0 &&
         p.h.padEnd == 0 && p.w.padBegin == 0 && p.w.padEnd == 0;
}

// Floats of workspace the CPU's conv2d_rows_* functions need (and the least conv scratch a
// plan gives) for `outRows` output rows of width `outW` with C input channels: one im2col
// matrix of one group, (C / group) * kH * kW * outRows * outW. Zero for a 1x1, stride-1,
// unpadded convolution, which reads and writes the bands directly.
inline int64_t conv2d_workspace_floats(const Conv2dParams& p, int64_t C, int64_t outW, int64_t outRows) {
  if (conv2d_is_direct(p) || p.group < 1) return 0;
  return (C / p.group) * p.h.kernel * p.w.kernel * outRows * outW;
}

}  // namespace lrc::kernels

// 2-D convolution on row bands: im2col + one cblas_sgemm per (image, group).
#pragma once

#include <cstdint>

#include "runtime/cpu/RowBand.h"

namespace lrc::cpu {

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

// Floats of workspace the three conv2d_rows_* functions need for `outRows` output rows of
// width `outW` with C input channels: one im2col matrix of one group, (C / group) * kH *
// kW * outRows * outW. Zero for a 1x1, stride-1, unpadded convolution, which reads and
// writes the bands directly.
int64_t conv2d_workspace_floats(const Conv2dParams& p, int64_t C, int64_t outW, int64_t outRows);

// out rows [a, b) = conv(in) + bias (bias may be null). `in` must hold
// window_input_rows(p.h, a, b, in.H). `workspace` holds conv2d_workspace_floats(p, in.C,
// out.W, b - a) floats.
void conv2d_rows_forward(RowBand out, ConstRowBand in, const float* weight, const float* bias, const Conv2dParams& p,
                         int64_t a, int64_t b, float* workspace);

// Scatter form of the input gradient: dIn += the contribution of dOut rows [a, b)
// (W^T * dOut, then col2im-add, skipping padding). `dIn` must hold the input rows those
// output rows read; calls for disjoint output ranges add up to the whole input gradient.
void conv2d_rows_backward_data(RowBand dIn, ConstRowBand dOut, const float* weight, const Conv2dParams& p, int64_t a,
                               int64_t b, float* workspace);

// dWeight += dOut rows [a, b) correlated with the input rows they read; dBias += the sum of
// dOut rows [a, b) per channel when dBias is non-null.
void conv2d_rows_backward_filter(float* dWeight, float* dBias, ConstRowBand dOut, ConstRowBand in,
                                 const Conv2dParams& p, int64_t a, int64_t b, float* workspace);

// dBias[k] += the sum of dOut rows [a, b) of channel k over all images, in double (the
// channel_sum kernel).
void conv2d_rows_backward_bias(float* dBias, ConstRowBand dOut, int64_t a, int64_t b);

}  // namespace lrc::cpu

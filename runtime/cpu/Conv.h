// 2-D convolution on row bands: im2col + one cblas_sgemm per (image, group).
#pragma once

#include <cstdint>

#include "runtime/cpu/RowBand.h"
#include "runtime/kernels/Conv.h"

namespace lrc::cpu {

// The parameters, conv2d_is_direct and conv2d_workspace_floats (the floats of `workspace`
// below) are shared with the plan loader and the CUDA backend: runtime/kernels/Conv.h.
using kernels::Conv2dParams;

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

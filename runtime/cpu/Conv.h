// 2-D convolution and transposed convolution on row bands: im2col + one cblas_sgemm per
// (image, chunk of output rows, group); the transposed convolution is the convolution's input
// gradient (col2im). A chunk is as many output rows as fit in p.scratchCapBytes of columns
// (kernels::conv2d_chunk_rows, at least one row), so the workspace is bounded, not the band's.
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

// The transposed convolution (ONNX ConvTranspose) whose equivalent convolution is `p`, weight
// [Cin][Cout / group][kH][kW] (the convolution's layout, read the other way): `in` is its
// input (the convolution's output-shaped map), `out` its output. Output rows [a, b) at any
// start: the input rows transposed_input_rows(p.h, a, b, in.H) are multiplied (GEMM) and
// scattered (col2im), and the taps that land outside [a, b) are dropped. `workspace` holds
// conv2d_workspace_floats(p, out.C, in.W, those input rows).
void conv_transpose2d_rows_forward(RowBand out, ConstRowBand in, const float* weight, const float* bias,
                                   const Conv2dParams& p, int64_t a, int64_t b, float* workspace);

// dIn += the contribution of dOut rows [a, b): the convolution of dOut with its rows outside
// [a, b) read as 0, over the input rows transposed_input_rows(p.h, a, b, dIn.H) (which dIn
// holds). Calls for disjoint ranges add up to the whole input gradient.
void conv_transpose2d_rows_backward_data(RowBand dIn, ConstRowBand dOut, const float* weight, const Conv2dParams& p,
                                         int64_t a, int64_t b, float* workspace);

// dWeight += the input rows that reach dOut rows [a, b), correlated with those dOut rows.
void conv_transpose2d_rows_backward_filter(float* dWeight, ConstRowBand dOut, ConstRowBand in, const Conv2dParams& p,
                                           int64_t a, int64_t b, float* workspace);

}  // namespace lrc::cpu

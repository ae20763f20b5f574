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

// Which kernels run conv2d_rows_forward, _backward_data and _backward_filter: the im2col +
// BLAS reference below, or oneDNN (runtime/cpu/DnnlConv.h) on its blocked layouts (kDnnl) or on
// the NCHW bands as they are (kDnnlPlain, its GEMM-based convolution) where it takes the call
// (kDnnl runs 1x1 stride-1 convolutions' forward and input gradient on maps of 28x28 or more
// on the plain form, where it measured faster; Conv.cpp); a call it declines (for its shape, or because its buffers do not fit in the workspace) runs
// the reference. The transposed convolutions always run the reference. Chosen by the
// environment variable LRC_CPU_CONV=dnnl|dnnl-plain|im2col at first use; the default is dnnl
// when lrc was built with oneDNN (the fastest by docs/benchmarks.md, "oneDNN convolutions"),
// else im2col. The PyTorch parity tests pass on both paths (docs/benchmarks.md, "oneDNN the
// default": ResNet-18's draw conditioned); the CPU-vs-CUDA comparison of test/e2e/backends.py
// runs the CPU side on im2col, the order nearest the CUDA backend's.
enum class ConvPath { kIm2col, kDnnl, kDnnlPlain };
ConvPath conv_path();
void set_conv_path(ConvPath path);  // tests; kDnnl without oneDNN runs im2col

// The floats of workspace a call may use: `workspaceFloats` when given (>= 0; the plan's
// scratch buffer), else conv2d_workspace_floats of the call (the least a caller provides).

// out rows [a, b) = conv(in) + bias (bias may be null). `in` must hold
// window_input_rows(p.h, a, b, in.H). `workspace` holds conv2d_workspace_floats(p, in.C,
// out.W, b - a) floats.
void conv2d_rows_forward(RowBand out, ConstRowBand in, const float* weight, const float* bias, const Conv2dParams& p,
                         int64_t a, int64_t b, float* workspace, int64_t workspaceFloats = -1);

// Scatter form of the input gradient: dIn += the contribution of dOut rows [a, b)
// (W^T * dOut, then col2im-add, skipping padding). `dIn` must hold the input rows those
// output rows read; calls for disjoint output ranges add up to the whole input gradient.
// `dInZeroed`: the caller has zeroed dIn, so the oneDNN path may overwrite the rows it reads
// (without it the call runs the reference).
void conv2d_rows_backward_data(RowBand dIn, ConstRowBand dOut, const float* weight, const Conv2dParams& p, int64_t a,
                               int64_t b, float* workspace, bool dInZeroed = false, int64_t workspaceFloats = -1);

// dWeight += dOut rows [a, b) correlated with the input rows they read; dBias += the sum of
// dOut rows [a, b) per channel when dBias is non-null. `dWeightZeroed`: the caller has zeroed
// dWeight, so the oneDNN path may overwrite it; otherwise oneDNN's gradient goes through a
// weight-sized buffer in the workspace (the reference runs when it does not fit).
void conv2d_rows_backward_filter(float* dWeight, float* dBias, ConstRowBand dOut, ConstRowBand in,
                                 const Conv2dParams& p, int64_t a, int64_t b, float* workspace,
                                 bool dWeightZeroed = false, int64_t workspaceFloats = -1);

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

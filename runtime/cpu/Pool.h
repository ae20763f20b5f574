// Max, average and global average pooling on row bands.
#pragma once

#include <cstdint>

#include "runtime/cpu/RowBand.h"
#include "runtime/kernels/Pool.h"

namespace lrc::cpu {

// The shared parameters and window geometry (runtime/kernels/Pool.h: valid_taps, avg_span,
// avg_divisor).
using kernels::avg_span;
using kernels::AvgSpan;
using kernels::Pool2dParams;
using kernels::Taps;
using kernels::valid_taps;

// out rows [a, b) = max over each window's in-bounds elements (padding never wins; a window
// with no in-bounds element gives -inf). NaN propagates. `in` must hold
// window_input_rows(p.h, a, b, in.H).
void maxpool2d_rows_forward(RowBand out, ConstRowBand in, const Pool2dParams& p, int64_t a, int64_t b);

// Scatter form: for every element of dOut rows [a, b), dIn[argmax] += dOut, the argmax being
// recomputed from `in` as the first maximum in scan order (row-major within the window, as
// PyTorch). `in` and `dIn` must hold the input rows those output rows read.
void maxpool2d_rows_backward(RowBand dIn, ConstRowBand dOut, ConstRowBand in, const Pool2dParams& p, int64_t a,
                             int64_t b);

// The scalar kernels (every window by itself, one thread) the two above are bit for bit: their
// reference in the tests (test/unit/cpu_kernels_pool_test.cpp). The kernels above take loops over
// the columns whose windows lie inside the row (vectorised) and these windows for the others.
void maxpool2d_rows_forward_reference(RowBand out, ConstRowBand in, const Pool2dParams& p, int64_t a, int64_t b);
void maxpool2d_rows_backward_reference(RowBand dIn, ConstRowBand dOut, ConstRowBand in, const Pool2dParams& p,
                                       int64_t a, int64_t b);

// out rows [a, b) = window sums / divisor with PyTorch's divisor: countIncludePad counts the
// window clipped to the padded map [-padBegin, size + padEnd); otherwise it counts the
// in-bounds elements. A window with no in-bounds element gives 0. Dilation must be 1.
void avgpool2d_rows_forward(RowBand out, ConstRowBand in, const Pool2dParams& p, int64_t a, int64_t b);

// Scatter form: dIn += dOut / divisor over each window of dOut rows [a, b).
void avgpool2d_rows_backward(RowBand dIn, ConstRowBand dOut, const Pool2dParams& p, int64_t a, int64_t b);

// y[n * C + c] = mean of x[n][c][.][.] (x is N x C x HW); ends a row pipeline.
void global_avgpool_forward(float* y, const float* x, int64_t N, int64_t C, int64_t HW);

// dx[n][c][i] += dy[n * C + c] / HW.
void global_avgpool_backward(float* dx, const float* dy, int64_t N, int64_t C, int64_t HW);

}  // namespace lrc::cpu

// Max, average and global average pooling on row bands.
#pragma once

#include <cstdint>

#include "runtime/Portable.h"
#include "runtime/cpu/RowBand.h"

namespace lrc::cpu {

// Output N x C x OH x OW with OH = window_output_size(h, H, ceilMode), likewise OW.
struct Pool2dParams {
  WindowAxis h, w;
  bool ceilMode = false;
  bool countIncludePad = false;  // average pooling only
};

// Window geometry shared by the CPU kernels and the CUDA ones (LRC_HD: device code calls it).

// Taps [lo, hi) of the window at output index o that land inside [0, size); tap i reads
// input index start + i * dilation.
struct Taps {
  int64_t lo, hi, start;
};
LRC_HD inline Taps valid_taps(const WindowAxis& axis, int64_t o, int64_t size) {
  const int64_t start = o * axis.stride - axis.padBegin;
  int64_t lo = start >= 0 ? 0 : (-start + axis.dilation - 1) / axis.dilation;
  if (lo > axis.kernel) lo = axis.kernel;
  int64_t hi = lo;
  if (start <= size - 1) {
    hi = (size - 1 - start) / axis.dilation + 1;
    hi = hi < lo ? lo : (hi > axis.kernel ? axis.kernel : hi);
  }
  return {lo, hi, start};
}

// One axis of an average window: in-bounds input indices [lo, hi) and the window's extent
// clipped to the padded map, which is PyTorch's count_include_pad divisor.
struct AvgSpan {
  int64_t lo, hi, padded;
};
LRC_HD inline AvgSpan avg_span(const WindowAxis& axis, int64_t o, int64_t size) {
  const int64_t start = o * axis.stride - axis.padBegin;
  const int64_t end = start + axis.kernel < size + axis.padEnd ? start + axis.kernel : size + axis.padEnd;
  return {start > 0 ? start : 0, end < size ? end : size, end - start};
}
LRC_HD inline double avg_divisor(const Pool2dParams& p, const AvgSpan& sh, const AvgSpan& sw) {
  return p.countIncludePad ? static_cast<double>(sh.padded * sw.padded)
                           : static_cast<double>((sh.hi - sh.lo) * (sw.hi - sw.lo));
}

// out rows [a, b) = max over each window's in-bounds elements (padding never wins; a window
// with no in-bounds element gives -inf). NaN propagates. `in` must hold
// window_input_rows(p.h, a, b, in.H).
void maxpool2d_rows_forward(RowBand out, ConstRowBand in, const Pool2dParams& p, int64_t a, int64_t b);

// Scatter form: for every element of dOut rows [a, b), dIn[argmax] += dOut, the argmax being
// recomputed from `in` as the first maximum in scan order (row-major within the window, as
// PyTorch). `in` and `dIn` must hold the input rows those output rows read.
void maxpool2d_rows_backward(RowBand dIn, ConstRowBand dOut, ConstRowBand in, const Pool2dParams& p, int64_t a,
                             int64_t b);

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

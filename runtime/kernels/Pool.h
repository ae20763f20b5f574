// Parameters and window geometry of max and average pooling, shared by the plan loader and
// both backends (LRC_HD: the CUDA kernels call them on the device).
#pragma once

#include <cstdint>

#include "runtime/kernels/Portable.h"
#include "runtime/kernels/Window.h"

namespace lrc::kernels {

// Output N x C x OH x OW with OH = window_output_size(h, H, ceilMode), likewise OW.
struct Pool2dParams {
  WindowAxis h, w;
  bool ceilMode = false;
  bool countIncludePad = false;  // average pooling only
};

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

}  // namespace lrc::kernels

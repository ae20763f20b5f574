// The geometry of a sliding window (convolution or pooling) along one axis, once: the output
// size (shape inference, the plan loader, the kernels) and the input rows a range of output
// rows reads (the row rules of passes/RowAnalysis, the loader's band checks, the kernels).
// Plain integers, no dependencies.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>

namespace lrc::ops {

// One spatial axis of a sliding window: output index o reads input indices
// o * stride - padBegin + i * dilation for i in [0, kernel).
struct WindowAxis {
  int64_t kernel = 1;
  int64_t stride = 1;
  int64_t padBegin = 0;
  int64_t padEnd = 0;
  int64_t dilation = 1;
};

// Output extent of a window axis over an input of `inSize` (PyTorch/ONNX rule): with
// ceilMode the last window may overhang the end padding, but a window that starts past
// inSize + padBegin is dropped. Returns 0 or less when no window fits.
constexpr int64_t windowOutputSize(const WindowAxis& axis, int64_t inSize, bool ceilMode = false) {
  const int64_t span = inSize + axis.padBegin + axis.padEnd - axis.dilation * (axis.kernel - 1) - 1;
  if (span < 0 || axis.stride <= 0) return 0;
  int64_t out = (ceilMode ? (span + axis.stride - 1) / axis.stride : span / axis.stride) + 1;
  if (ceilMode && (out - 1) * axis.stride >= inSize + axis.padBegin) --out;
  return out;
}

// Input rows [begin, end) that output rows [a, b) read: [a*s - p, (b-1)*s - p + d*(k-1) + 1)
// clipped to [0, inSize) (SPEC section 2). With dilation this hull may include a row that no
// tap reads; kernels require the hull, so compiler and runtime agree on one formula. {0, 0}
// when a >= b or when the hull lies in the padding.
constexpr std::pair<int64_t, int64_t> windowInputRows(const WindowAxis& axis, int64_t a, int64_t b, int64_t inSize) {
  if (a >= b) return {0, 0};
  const int64_t begin = std::max<int64_t>(a * axis.stride - axis.padBegin, 0);
  const int64_t end =
      std::min<int64_t>((b - 1) * axis.stride - axis.padBegin + axis.dilation * (axis.kernel - 1) + 1, inSize);
  if (begin >= end) return {0, 0};
  return {begin, end};
}

// A transposed convolution (ONNX ConvTranspose) along one axis is the input gradient of the
// convolution `axis` describes: input index i adds into output indices i * stride - padBegin +
// t * dilation. Its output size, s * (in - 1) + outputPadding + d * (k - 1) + 1 - pads; the
// equivalent convolution maps that size back to `inSize` when outputPadding < stride.
constexpr int64_t transposedOutputSize(const WindowAxis& axis, int64_t inSize, int64_t outputPadding) {
  return axis.stride * (inSize - 1) + outputPadding + axis.dilation * (axis.kernel - 1) + 1 - axis.padBegin -
         axis.padEnd;
}

// Input rows [begin, end) whose taps reach output rows [a, b) of the transposed convolution:
// i with i*s - p <= b - 1 and i*s - p + d*(k-1) >= a, clipped to [0, inSize). Right for any
// [a, b), on the stride's grid or not: the kernels drop the taps outside [a, b). Without
// dilation these are exactly the rows with a tap in [a, b); with it, as windowInputRows, the
// hull may hold rows none of whose taps land there (they add nothing). {0, 0} when none.
constexpr std::pair<int64_t, int64_t> transposedInputRows(const WindowAxis& axis, int64_t a, int64_t b,
                                                          int64_t inSize) {
  if (a >= b) return {0, 0};
  auto floorDiv = [](int64_t n, int64_t d) { return n >= 0 ? n / d : -((-n + d - 1) / d); };
  const int64_t reach = axis.dilation * (axis.kernel - 1);
  const int64_t begin = std::max<int64_t>(-floorDiv(-(a + axis.padBegin - reach), axis.stride), 0);
  const int64_t end = std::min<int64_t>(floorDiv(b - 1 + axis.padBegin, axis.stride) + 1, inSize);
  if (begin >= end) return {0, 0};
  return {begin, end};
}

}  // namespace lrc::ops

// Parameters of constant padding (and cropping) of an NCHW map, shared by the plan loader and
// both backends.
#pragma once

#include <algorithm>
#include <cstdint>

#include "runtime/kernels/RowBand.h"

namespace lrc::kernels {

// Pads in ONNX order [n0, c0, h0, w0, n1, c1, h1, w1]: x0 elements before, x1 after each
// axis; negative pads crop. The output is (N + n0 + n1) x (C + c0 + c1) x (H + h0 + h1) x
// (W + w0 + w1), and output (n, c, h, w) = input (n - n0, c - c0, h - h0, w - w0) where that
// lies in the input, `value` elsewhere.
struct PadParams {
  int64_t pads[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  float value = 0.0f;
};

// Input rows that output rows [a, b) read: [a - h0, b - h0) clipped to [0, inH).
inline RowRange pad_input_rows(const PadParams& p, int64_t a, int64_t b, int64_t inH) {
  const int64_t begin = std::max<int64_t>(a - p.pads[2], 0);
  const int64_t end = std::min<int64_t>(b - p.pads[2], inH);
  if (a >= b || begin >= end) return {0, 0};
  return {begin, end};
}

}  // namespace lrc::kernels

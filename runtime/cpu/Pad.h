// Constant padding (and cropping) of an NCHW map on row bands.
#pragma once

#include <cstdint>

#include "runtime/cpu/RowBand.h"

namespace lrc::cpu {

// Pads in ONNX order [n0, c0, h0, w0, n1, c1, h1, w1]: x0 elements before, x1 after each
// axis; negative pads crop. The output is (N + n0 + n1) x (C + c0 + c1) x (H + h0 + h1) x
// (W + w0 + w1), and output (n, c, h, w) = input (n - n0, c - c0, h - h0, w - w0) where that
// lies in the input, `value` elsewhere.
struct PadParams {
  int64_t pads[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  float value = 0.0f;
};

// Input rows that output rows [a, b) read: [a - h0, b - h0) clipped to [0, inH).
RowRange pad_input_rows(const PadParams& p, int64_t a, int64_t b, int64_t inH);

// out rows [a, b) of the padded map. `in` must hold pad_input_rows(p, a, b, in.H).
void pad_rows_forward(RowBand out, ConstRowBand in, const PadParams& p, int64_t a, int64_t b);

// dIn += the part of dOut rows [a, b) that came from the input (padding drops its
// gradient). `dIn` must hold pad_input_rows(p, a, b, dIn.H).
void pad_rows_backward(RowBand dIn, ConstRowBand dOut, const PadParams& p, int64_t a, int64_t b);

}  // namespace lrc::cpu

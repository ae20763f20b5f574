// Constant padding (and cropping) of an NCHW map on row bands.
#pragma once

#include <cstdint>

#include "runtime/cpu/RowBand.h"
#include "runtime/kernels/Pad.h"

namespace lrc::cpu {

// The shared parameters (runtime/kernels/Pad.h) and pad_input_rows, the input rows that
// output rows read.
using kernels::PadParams;

// out rows [a, b) of the padded map. `in` must hold pad_input_rows(p, a, b, in.H).
void pad_rows_forward(RowBand out, ConstRowBand in, const PadParams& p, int64_t a, int64_t b);

// dIn += the part of dOut rows [a, b) that came from the input (padding drops its
// gradient). `dIn` must hold pad_input_rows(p, a, b, dIn.H).
void pad_rows_backward(RowBand dIn, ConstRowBand dOut, const PadParams& p, int64_t a, int64_t b);

}  // namespace lrc::cpu

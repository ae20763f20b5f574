// Resize (nearest or bilinear) on row bands: the element rules of runtime/kernels/Resize.h
// in plain loops, with the CPU kernels' entry checks.
#pragma once

#include <cstdint>

#include "runtime/cpu/RowBand.h"
#include "runtime/kernels/Resize.h"

namespace lrc::cpu {

using kernels::ResizeParams;

// out rows [a, b) = the resize of `in`, which must hold the input rows they read
// (kernels::resize_input_rows). The bands' extents must be p's.
void resize_rows_forward(RowBand out, ConstRowBand in, const ResizeParams& p, int64_t a, int64_t b);

// dIn += the adjoint of output-gradient rows [a, b): every output's gradient times each of
// its weights, onto the input element that weight is for. dIn must hold the rows they reach.
void resize_rows_backward(RowBand dIn, ConstRowBand dOut, const ResizeParams& p, int64_t a, int64_t b);

}  // namespace lrc::cpu

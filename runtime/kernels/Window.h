// The geometry of a sliding window (convolution or pooling) along one axis, as the kernels
// take it: the formulas are ops/Window.h's, which shape inference and passes/RowAnalysis use
// too.
#pragma once

#include <algorithm>
#include <cstdint>

#include "ops/Window.h"
#include "runtime/kernels/RowBand.h"

namespace lrc::kernels {

using ops::WindowAxis;

inline int64_t window_output_size(const WindowAxis& axis, int64_t inSize, bool ceilMode = false) {
  return ops::windowOutputSize(axis, inSize, ceilMode);
}

inline RowRange window_input_rows(const WindowAxis& axis, int64_t a, int64_t b, int64_t inSize) {
  const auto [begin, end] = ops::windowInputRows(axis, a, b, inSize);
  return {begin, end};
}

inline RowRange transposed_input_rows(const WindowAxis& axis, int64_t a, int64_t b, int64_t inSize) {
  const auto [begin, end] = ops::transposedInputRows(axis, a, b, inSize);
  return {begin, end};
}

}  // namespace lrc::kernels

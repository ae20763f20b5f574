// Row bands: the unit of data every spatial kernel reads and writes, on the CPU
// (runtime/cpu) and on the GPU (runtime/cuda), so that a row-strip plan runs the same
// kernels as a layer-by-layer one (a full map is the band of all rows).
//
// Conventions shared by every kernel of both backends:
// - Tensors are NCHW float32 on raw pointers with explicit sizes.
// - A kernel computes a range [a, b) of OUTPUT rows (global row indices) into an output band
//   that holds them, reading input bands that hold every input row those rows need (clipped
//   to the map).
// - Backward kernels ADD into their gradient outputs (weight gradients accumulate over
//   strips, overlapping input-gradient rows add up); callers zero gradients once per step.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "runtime/kernels/Portable.h"

namespace lrc::kernels {

// Half-open range of rows [begin, end).
struct RowRange {
  int64_t begin = 0;
  int64_t end = 0;
  LRC_HD int64_t size() const { return end > begin ? end - begin : 0; }
  LRC_HD bool empty() const { return end <= begin; }
};

// The rows two ranges share (empty when none).
inline RowRange intersect(RowRange x, RowRange y) {
  const RowRange r{std::max(x.begin, y.begin), std::min(x.end, y.end)};
  return r.empty() ? RowRange{} : r;
}

// Rows [row0, row0 + rows) of an N x C x H x W map, stored contiguously as
// [N][C][rows][W]: element (n, c, h, w), row0 <= h < row0 + rows, is
// data[((n * C + c) * rows + (h - row0)) * W + w]. Rows outside [0, H) are padding and are
// never stored, so 0 <= row0 and row0 + rows <= H. The CUDA backend's bands are the same
// struct over device pointers.
template <class T>
struct BasicRowBand {
  T* data = nullptr;
  int64_t N = 0, C = 0, H = 0, W = 0;
  int64_t row0 = 0, rows = 0;

  // First element of global row h of image n, channel c. Rows [a, b) of one (n, c) are the
  // contiguous (b - a) * W floats starting at row(n, c, a).
  LRC_HD T* row(int64_t n, int64_t c, int64_t h) const { return data + ((n * C + c) * rows + (h - row0)) * W; }
  LRC_HD T& at(int64_t n, int64_t c, int64_t h, int64_t w) const { return row(n, c, h)[w]; }
  LRC_HD RowRange range() const { return {row0, row0 + rows}; }
  LRC_HD bool holds(RowRange r) const { return r.empty() || (row0 <= r.begin && r.end <= row0 + rows); }
  LRC_HD bool holdsRow(int64_t h) const { return h >= row0 && h < row0 + rows; }
  LRC_HD int64_t numElements() const { return N * C * rows * W; }

  // A band of mutable floats is usable wherever a band of const floats is read.
  LRC_HD operator BasicRowBand<const T>() const requires(!std::is_const_v<T>) { return {data, N, C, H, W, row0, rows}; }
};
using RowBand = BasicRowBand<float>;
using ConstRowBand = BasicRowBand<const float>;

// The whole N x C x H x W map as a band.
inline RowBand full_band(float* data, int64_t N, int64_t C, int64_t H, int64_t W) { return {data, N, C, H, W, 0, H}; }
inline ConstRowBand full_band(const float* data, int64_t N, int64_t C, int64_t H, int64_t W) {
  return {data, N, C, H, W, 0, H};
}

}  // namespace lrc::kernels

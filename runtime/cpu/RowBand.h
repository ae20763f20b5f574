// Row bands: the unit of data every spatial CPU kernel reads and writes, so that a row-strip
// plan runs the same kernels as a layer-by-layer one (a full map is the band of all rows).
//
// Conventions shared by every kernel in lrc::cpu:
// - Tensors are NCHW float32 on raw pointers with explicit sizes.
// - A kernel computes a range [a, b) of OUTPUT rows (global row indices) into an output band
//   that holds them, reading input bands that hold every input row those rows need (clipped
//   to the map). Containment is checked once at entry; violations throw
//   std::invalid_argument naming the kernel, the band and the rows.
// - Backward kernels ADD into their gradient outputs (weight gradients accumulate over
//   strips, overlapping input-gradient rows add up); callers zero gradients once per step.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <type_traits>
#include <utility>
#include <vector>

namespace lrc::cpu {

// Half-open range of rows [begin, end).
struct RowRange {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t size() const { return end > begin ? end - begin : 0; }
  bool empty() const { return end <= begin; }
};

// The rows two ranges share (empty when none).
inline RowRange intersect(RowRange x, RowRange y) {
  const RowRange r{std::max(x.begin, y.begin), std::min(x.end, y.end)};
  return r.empty() ? RowRange{} : r;
}

// Rows [row0, row0 + rows) of an N x C x H x W map, stored contiguously as
// [N][C][rows][W]: element (n, c, h, w), row0 <= h < row0 + rows, is
// data[((n * C + c) * rows + (h - row0)) * W + w]. Rows outside [0, H) are padding and are
// never stored, so 0 <= row0 and row0 + rows <= H.
template <class T>
struct BasicRowBand {
  T* data = nullptr;
  int64_t N = 0, C = 0, H = 0, W = 0;
  int64_t row0 = 0, rows = 0;

  // First element of global row h of image n, channel c. Rows [a, b) of one (n, c) are the
  // contiguous (b - a) * W floats starting at row(n, c, a).
  T* row(int64_t n, int64_t c, int64_t h) const { return data + ((n * C + c) * rows + (h - row0)) * W; }
  RowRange range() const { return {row0, row0 + rows}; }
  bool holds(RowRange r) const { return r.empty() || (row0 <= r.begin && r.end <= row0 + rows); }
  int64_t numElements() const { return N * C * rows * W; }

  // A band of mutable floats is usable wherever a band of const floats is read.
  operator BasicRowBand<const T>() const requires(!std::is_const_v<T>) { return {data, N, C, H, W, row0, rows}; }
};
using RowBand = BasicRowBand<float>;
using ConstRowBand = BasicRowBand<const float>;

// The whole N x C x H x W map as a band.
inline RowBand full_band(float* data, int64_t N, int64_t C, int64_t H, int64_t W) { return {data, N, C, H, W, 0, H}; }
inline ConstRowBand full_band(const float* data, int64_t N, int64_t C, int64_t H, int64_t W) {
  return {data, N, C, H, W, 0, H};
}

// One spatial axis of a sliding window (convolution or pooling): output index o reads
// input indices o * stride - padBegin + i * dilation for i in [0, kernel).
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
int64_t window_output_size(const WindowAxis& axis, int64_t inSize, bool ceilMode = false);

// Input rows that output rows [a, b) read: [a*s - p, (b-1)*s - p + d*(k-1) + 1) clipped to
// [0, inSize) (SPEC section 2). With dilation this hull may include a row that no tap reads;
// kernels require the hull, so compiler and runtime agree on one formula. Empty when a >= b
// or when the hull lies in the padding.
RowRange window_input_rows(const WindowAxis& axis, int64_t a, int64_t b, int64_t inSize);

// Checks kernel >= 1, stride >= 1, dilation >= 1, pads >= 0; throws std::invalid_argument
// naming the kernel and the axis ("height" or "width") otherwise.
void check_window(const char* kernel, const char* axisName, const WindowAxis& axis);

// Checks that `band` is well formed (non-null data, non-negative sizes, rows inside
// [0, H)); throws std::invalid_argument("<kernel>: <name> band ...") otherwise.
void check_band(const char* kernel, const char* name, ConstRowBand band);

// Checks that `band` holds rows `needed`; throws std::invalid_argument otherwise, with a
// message giving both ranges and `why` (for example "output rows [2, 4) read").
void require_rows(const char* kernel, const char* name, ConstRowBand band, RowRange needed, const char* why);

// Checks 0 <= a <= b <= band.H and that `band` holds [a, b): the output-row range a
// kernel is asked to compute (or the gradient rows it is asked to propagate).
void check_output_rows(const char* kernel, const char* name, ConstRowBand band, int64_t a, int64_t b);

// Checks that every band is well formed, of the first band's map, and holds rows [a, b) (the
// element-wise kernels' rule); the names go into the message.
void check_rows_of_one_map(const char* kernel, std::initializer_list<std::pair<const char*, ConstRowBand>> bands,
                           int64_t a, int64_t b);

// dst rows [a, b) = src rows [a, b) (all images and channels). Both bands must hold [a, b)
// and have the same N, C, H, W. Used to move rows between strip buffers.
void copy_rows(RowBand dst, ConstRowBand src, int64_t a, int64_t b);

// dst rows [a, b) += src rows [a, b): sums the gradients of rows that several strips touch.
void add_rows(RowBand dst, ConstRowBand src, int64_t a, int64_t b);

// Assembles a band from others of the same map (the rows_copy kernel): every row of `dst` is
// that row of the LAST source holding it, or 0 when no source does. Sources must not
// overlap `dst` in memory.
void gather_rows(RowBand dst, const std::vector<ConstRowBand>& sources);

// dst's rows = the sum over `sources` of their rows inside dst's range, 0 where no source
// holds a row (the rows_sum kernel: the input gradient of rows that several strips touched).
// Rows of a source outside dst's range are ignored. Sources must not overlap `dst`.
void sum_rows(RowBand dst, const std::vector<ConstRowBand>& sources);

}  // namespace lrc::cpu

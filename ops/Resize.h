// The sampling formula of Resize (ONNX Resize/Upsample, nearest or linear) along one axis, once:
// which input indices and weights one output index reads (both backends' kernels, forward and
// its adjoint), the input rows a range of output rows reads (the row rule of
// passes/RowAnalysis, the plan loader's band checks) and the outputs that read one input (the
// gather form of the gradient). Plain integers and doubles, constexpr and without library
// math, so the CUDA backend calls the same code on the device (--expt-relaxed-constexpr) and
// the compiler and every kernel agree on every index.
#pragma once

#include <cstdint>
#include <utility>

namespace lrc::ops {

// ONNX's coordinate_transformation_mode (the IR attribute `coord`), the ones lrc supports.
enum class ResizeCoord : int64_t { HalfPixel = 0, PytorchHalfPixel = 1, AlignCorners = 2, Asymmetric = 3 };
// ONNX's nearest_mode (the IR attribute `nearest_mode`): how nearest rounds a coordinate.
enum class ResizeNearest : int64_t { RoundPreferFloor = 0, RoundPreferCeil = 1, Floor = 2, Ceil = 3 };
inline constexpr int64_t kResizeCoordCount = 4, kResizeNearestCount = 4;

// One spatial axis of a resize: input and output extents, ONNX's scale (output / input: the
// `scales` input, or sizes / input when sizes are given) and the modes.
struct ResizeAxis {
  int64_t inSize = 1, outSize = 1;
  double scale = 1.0;
  ResizeCoord coord = ResizeCoord::HalfPixel;
  bool linear = false;
  ResizeNearest nearest = ResizeNearest::RoundPreferFloor;
};

// Output index o reads (1 - w1) * x[i0] + w1 * x[i1]; nearest: i1 = i0, w1 = 0. i0 and i1 are
// each non-decreasing in o, which makes the rows of a range of outputs one interval.
struct ResizeTaps {
  int64_t i0 = 0, i1 = 0;
  double w1 = 0.0;
};

namespace resize_detail {
constexpr int64_t floorOf(double x) {
  const auto t = static_cast<int64_t>(x);
  return static_cast<double>(t) > x ? t - 1 : t;
}
constexpr int64_t ceilOf(double x) {
  const auto t = static_cast<int64_t>(x);
  return static_cast<double>(t) < x ? t + 1 : t;
}
constexpr int64_t clampIndex(int64_t i, int64_t size) { return i < 0 ? 0 : (i > size - 1 ? size - 1 : i); }
}  // namespace resize_detail

// ONNX's x_original of output index o. align_corners (and pytorch_half_pixel's test of one
// output) take the output size, as PyTorch and onnxruntime do (ONNX's reference takes the
// unfloored in * scale when scales are given, which differs where that is not whole). Sums and
// quotients only, no product feeding a sum, so no
// compiler contracts it into a fused multiply-add that would round differently on the device.
constexpr double resizeSource(const ResizeAxis& a, int64_t o) {
  const auto x = static_cast<double>(o);
  switch (a.coord) {
    case ResizeCoord::HalfPixel: return (x + 0.5) / a.scale - 0.5;
    case ResizeCoord::PytorchHalfPixel: return a.outSize > 1 ? (x + 0.5) / a.scale - 0.5 : 0.0;
    case ResizeCoord::AlignCorners:
      return a.outSize > 1 ? x * static_cast<double>(a.inSize - 1) / static_cast<double>(a.outSize - 1) : 0.0;
    case ResizeCoord::Asymmetric: return x / a.scale;
  }
  return 0.0;
}

// The taps of output index o. Linear clamps the coordinate to [0, inSize - 1] (what ONNX's
// edge padding and PyTorch's clamping both give); nearest rounds by the nearest mode and
// clamps the index.
constexpr ResizeTaps resizeTaps(const ResizeAxis& a, int64_t o) {
  using namespace resize_detail;
  double x = resizeSource(a, o);
  const auto last = static_cast<double>(a.inSize - 1);
  x = x < 0.0 ? 0.0 : (x > last ? last : x);  // also keeps the integer conversions in range
  if (!a.linear) {
    int64_t i = 0;
    switch (a.nearest) {
      case ResizeNearest::RoundPreferFloor: i = ceilOf(x - 0.5); break;
      case ResizeNearest::RoundPreferCeil: i = floorOf(x + 0.5); break;
      case ResizeNearest::Floor: i = floorOf(x); break;
      case ResizeNearest::Ceil: i = ceilOf(x); break;
    }
    i = clampIndex(i, a.inSize);
    return {i, i, 0.0};
  }
  const int64_t i0 = floorOf(x);
  const double w1 = x - static_cast<double>(i0);
  return {i0, w1 > 0.0 ? i0 + 1 : i0, w1};
}

// Input rows [begin, end) that output rows [a, b) read (the taps' hull; taps are monotone).
// {0, 0} when a >= b.
constexpr std::pair<int64_t, int64_t> resizeInputRows(const ResizeAxis& axis, int64_t a, int64_t b) {
  if (a >= b) return {0, 0};
  return {resizeTaps(axis, a).i0, resizeTaps(axis, b - 1).i1 + 1};
}

// The output indices [first, end) within [a, b) whose taps include input index i (an interval,
// the taps being monotone), by bisection: the gather form of the adjoint.
constexpr std::pair<int64_t, int64_t> resizeReaders(const ResizeAxis& axis, int64_t i, int64_t a, int64_t b) {
  int64_t lo = a, hi = b;  // the first o with i1(o) >= i
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (resizeTaps(axis, mid).i1 >= i) hi = mid;
    else lo = mid + 1;
  }
  const int64_t first = lo;
  hi = b;  // the first o with i0(o) > i
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (resizeTaps(axis, mid).i0 > i) hi = mid;
    else lo = mid + 1;
  }
  return {first, lo};
}

// The weight input index i has in output index o's value (0 when o does not read it).
constexpr double resizeWeight(const ResizeTaps& t, int64_t i) {
  return (t.i0 == i ? 1.0 - t.w1 : 0.0) + (t.i1 == i ? t.w1 : 0.0);
}

}  // namespace lrc::ops

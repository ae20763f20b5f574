// resize on row bands (runtime/cpu/Resize.h over ops/Resize.h's formula): the forward against
// ONNX's Resize written out independently (std::floor and std::round, the edge-padded linear
// neighbours of ONNX's reference), for every coordinate mode, nearest mode and both
// interpolations, upsampling and downsampling; the input rows a range of output rows reads
// against the rows the reference touches; the backward against central differences and as
// the adjoint of the forward; row pieces against the whole map.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/cpu/Resize.h"
#include "test/unit/cpu_kernels_test_util.h"

namespace lrc::cpu {
namespace {

using namespace testing;  // the kernel tests' helpers (cpu_kernels_test_util.h)
using ops::ResizeAxis;
using ops::ResizeCoord;
using ops::ResizeNearest;

// ONNX's x_original, from the spec's text.
double reference_source(const ResizeAxis& a, int64_t o) {
  const double x = static_cast<double>(o);
  switch (a.coord) {
    case ResizeCoord::HalfPixel: return (x + 0.5) / a.scale - 0.5;
    case ResizeCoord::PytorchHalfPixel: return a.outSize > 1 ? (x + 0.5) / a.scale - 0.5 : 0.0;
    case ResizeCoord::AlignCorners:
      return a.outSize == 1 ? 0.0 : x * static_cast<double>(a.inSize - 1) / static_cast<double>(a.outSize - 1);
    case ResizeCoord::Asymmetric: return x / a.scale;
  }
  throw std::logic_error("coordinate mode");
}

// The (index, weight) pairs output o reads, weights not 0: nearest rounds by its mode and clamps;
// linear reads floor(x) and floor(x) + 1 of the edge-padded input (ONNX's reference).
std::vector<std::pair<int64_t, double>> reference_taps(const ResizeAxis& a, int64_t o) {
  const double x = reference_source(a, o);
  auto clamp = [&](double i) { return static_cast<int64_t>(std::min(std::max(i, 0.0), double(a.inSize - 1))); };
  if (!a.linear) {
    double i = 0;
    switch (a.nearest) {
      case ResizeNearest::RoundPreferFloor: i = x - std::floor(x) == 0.5 ? std::floor(x) : std::round(x); break;
      case ResizeNearest::RoundPreferCeil: i = x - std::floor(x) == 0.5 ? std::ceil(x) : std::round(x); break;
      case ResizeNearest::Floor: i = std::floor(x); break;
      case ResizeNearest::Ceil: i = std::ceil(x); break;
    }
    return {{clamp(i), 1.0}};
  }
  const double f = std::floor(x), r = x - f;
  std::vector<std::pair<int64_t, double>> taps;
  if (1.0 - r != 0.0) taps.push_back({clamp(f), 1.0 - r});
  if (r != 0.0) taps.push_back({clamp(f + 1), r});
  return taps;
}

struct ResizeCase {
  int64_t N, C, H, W;
  ResizeParams p;
  int64_t inSize() const { return N * C * H * W; }
  int64_t outSize() const { return N * C * p.h.outSize * p.w.outSize; }
};

std::vector<double> reference(const ResizeCase& t, const std::vector<double>& x) {
  const int64_t OH = t.p.h.outSize, OW = t.p.w.outSize;
  std::vector<double> y(t.outSize(), 0.0);
  for (int64_t nc = 0; nc < t.N * t.C; ++nc)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow)
        for (const auto& [ih, wh] : reference_taps(t.p.h, oh))
          for (const auto& [iw, ww] : reference_taps(t.p.w, ow))
            y[(nc * OH + oh) * OW + ow] += wh * ww * x[(nc * t.H + ih) * t.W + iw];
  return y;
}

// Every coordinate mode with every nearest mode and with linear, on sizes that upsample
// (integer and fractional scales), downsample, and keep one axis.
std::vector<ResizeCase> cases() {
  std::vector<ResizeCase> all;
  const struct {
    int64_t in, out;
    double scale;
  } sizes[][2] = {
      {{5, 10, 2.0}, {6, 12, 2.0}},    // x2, F.interpolate(scale_factor=2)
      {{4, 6, 1.5}, {7, 21, 3.0}},     // fractional, x3
      {{9, 4, 0.5}, {8, 4, 0.6}},      // downsampling (floor(in * scale))
      {{6, 11, 11.0 / 6}, {1, 3, 3.0}},  // sizes-like scale; a 1-wide input
      {{3, 3, 1.0}, {5, 1, 0.2}},      // identity; to one column
  };
  for (int64_t coord = 0; coord < ops::kResizeCoordCount; ++coord)
    for (int64_t mode = 0; mode <= ops::kResizeNearestCount; ++mode)  // the nearest modes, then linear
      for (const auto& s : sizes) {
        ResizeCase c{2, 3, s[0].in, s[1].in, {}};
        for (int axis = 0; axis < 2; ++axis) {
          ResizeAxis& a = axis == 0 ? c.p.h : c.p.w;
          a = {s[axis].in, s[axis].out, s[axis].scale, ResizeCoord(coord), mode == ops::kResizeNearestCount,
               ResizeNearest(mode % ops::kResizeNearestCount)};
        }
        all.push_back(c);
      }
  return all;
}

std::string describe(const ResizeCase& c) {
  return "coord " + std::to_string(static_cast<int>(c.p.h.coord)) + (c.p.h.linear ? " linear" : " nearest ") +
         (c.p.h.linear ? "" : std::to_string(static_cast<int>(c.p.h.nearest))) + " " + std::to_string(c.H) + "x" +
         std::to_string(c.W) + " -> " + std::to_string(c.p.h.outSize) + "x" + std::to_string(c.p.w.outSize);
}

std::vector<float> forward(const ResizeCase& c, const std::vector<float>& x) {
  std::vector<float> y(c.outSize());
  resize_rows_forward(full_band(y.data(), c.N, c.C, c.p.h.outSize, c.p.w.outSize), full_band(x.data(), c.N, c.C, c.H, c.W),
                      c.p, 0, c.p.h.outSize);
  return y;
}

std::vector<float> backward(const ResizeCase& c, const std::vector<float>& dy) {
  std::vector<float> dx(c.inSize(), 0.0f);
  resize_rows_backward(full_band(dx.data(), c.N, c.C, c.H, c.W), full_band(dy.data(), c.N, c.C, c.p.h.outSize, c.p.w.outSize),
                       c.p, 0, c.p.h.outSize);
  return dx;
}

TEST(CpuResize, ForwardMatchesOnnxReference) {
  uint32_t seed = 1;
  for (const ResizeCase& c : cases()) {
    SCOPED_TRACE(describe(c));
    const std::vector<float> x = randomFloats(c.inSize(), seed++);
    EXPECT_LE(normalizedError(forward(c, x), reference(c, toDouble(x))), 1e-6);
  }
}

// For every range of output rows: the rows the formula gives are the hull of the rows the
// reference reads with a weight that is not 0 (no more, no fewer).
TEST(CpuResize, InputRowsAreTheRowsRead) {
  for (const ResizeCase& c : cases()) {
    SCOPED_TRACE(describe(c));
    const int64_t OH = c.p.h.outSize;
    for (int64_t a = 0; a < OH; ++a)
      for (int64_t b = a + 1; b <= OH; ++b) {
        int64_t lo = c.H, hi = -1;
        for (int64_t o = a; o < b; ++o)
          for (const auto& [i, w] : reference_taps(c.p.h, o)) {
            lo = std::min(lo, i);
            hi = std::max(hi, i);
          }
        const RowRange r = kernels::resize_input_rows(c.p, a, b);
        EXPECT_EQ(r.begin, lo) << "rows [" << a << ", " << b << ")";
        EXPECT_EQ(r.end, hi + 1) << "rows [" << a << ", " << b << ")";
      }
  }
}

// The backward is the forward's adjoint: <resize(x), dy> = <x, resize_backward(dy)>, and its
// gradient is the central differences of that loss.
TEST(CpuResize, BackwardIsTheAdjoint) {
  uint32_t seed = 100;
  for (const ResizeCase& c : cases()) {
    SCOPED_TRACE(describe(c));
    const std::vector<float> x = randomFloats(c.inSize(), seed++), dy = randomFloats(c.outSize(), seed++);
    const std::vector<double> dx = toDouble(backward(c, dy));
    EXPECT_NEAR(dot(toDouble(forward(c, x)), toDouble(dy)), dot(toDouble(x), dx), 1e-4);
  }
}

TEST(CpuResize, BackwardMatchesFiniteDifferences) {
  uint32_t seed = 300;
  for (const ResizeCase& c : cases()) {
    if (c.inSize() > 200) continue;  // central differences run the forward twice per element
    SCOPED_TRACE(describe(c));
    const std::vector<float> dy = randomFloats(c.outSize(), seed++);
    std::vector<double> x = toDouble(randomFloats(c.inSize(), seed++));
    const std::vector<double> numeric = numericGradient(
        x, [&] { return dot(toDouble(forward(c, std::vector<float>(x.begin(), x.end()))), toDouble(dy)); }, 1e-2);
    EXPECT_LE(normalizedError(backward(c, dy), numeric), 1e-4);
  }
}

// Forward on row pieces (each input band holding exactly the rows its piece reads) equals the
// whole map; backward pieces with their rows, summed, equal the whole-map gradient.
TEST(CpuResize, RowPiecesMatchWholeMap) {
  uint32_t seed = 500;
  for (const ResizeCase& c : cases()) {
    SCOPED_TRACE(describe(c));
    const int64_t OH = c.p.h.outSize, OW = c.p.w.outSize;
    const std::vector<float> x = randomFloats(c.inSize(), seed++), dy = randomFloats(c.outSize(), seed++);
    const std::vector<float> y = forward(c, x), dx = backward(c, dy);
    std::vector<float> pieces(c.outSize()), summed(c.inSize(), 0.0f);
    for (const RowRange r : splitRows(OH, 3)) {
      if (r.empty()) continue;
      const RowRange read = kernels::resize_input_rows(c.p, r.begin, r.end);
      const OwnedBand in = sliceRows(x, c.N, c.C, c.H, c.W, read);
      OwnedBand out(c.N, c.C, OH, OW, r);
      resize_rows_forward(out.band, in.band, c.p, r.begin, r.end);
      copy_rows(full_band(pieces.data(), c.N, c.C, OH, OW), out.band, r.begin, r.end);
      OwnedBand dIn(c.N, c.C, c.H, c.W, read);
      const OwnedBand dOut = sliceRows(dy, c.N, c.C, OH, OW, r);
      resize_rows_backward(dIn.band, dOut.band, c.p, r.begin, r.end);
      add_rows(full_band(summed.data(), c.N, c.C, c.H, c.W), dIn.band, read.begin, read.end);
    }
    EXPECT_EQ(pieces, y);
    EXPECT_LE(normalizedError(summed, dx), 1e-6);
  }
}

TEST(CpuResize, BandWithoutTheRowsReadIsAnError) {
  const ResizeAxis axis{4, 8, 2.0, ResizeCoord::HalfPixel, true, ResizeNearest::RoundPreferFloor};
  const ResizeCase c{1, 1, 4, 4, {axis, axis}};
  const RowRange read = kernels::resize_input_rows(c.p, 4, 8);  // rows 1.75 .. 3.25: [1, 4)
  EXPECT_EQ(read.begin, 1);
  EXPECT_EQ(read.end, 4);
  const std::vector<float> x = randomFloats(16, 7);
  const OwnedBand in = sliceRows(x, 1, 1, 4, 4, {2, 4});
  OwnedBand out(1, 1, 8, 8, {4, 8});
  EXPECT_THROW(resize_rows_forward(out.band, in.band, c.p, 4, 8), std::invalid_argument);
}

}  // namespace
}  // namespace lrc::cpu

// maxpool2d / avgpool2d on row bands and global average pooling: forward against direct
// loops, backward against central differences, row pieces against the whole map, and
// hand-computed cases for ceil_mode, count_include_pad and tie-breaking.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "runtime/cpu/Pool.h"
#include "test/unit/cpu_kernels_test_util.h"

namespace lrc::cpu {
namespace {

using testing::axis;
using testing::distinctFloats;
using testing::dot;
using testing::normalizedError;
using testing::numericGradient;
using testing::OwnedBand;
using testing::randomFloats;
using testing::sliceRows;
using testing::splitRows;
using testing::toDouble;

// PyTorch's output size, written out independently of the runtime's.
int64_t pooledSize(int64_t in, const WindowAxis& a, bool ceilMode) {
  const int64_t room = in + a.padBegin + a.padEnd - a.dilation * (a.kernel - 1) - 1;
  int64_t out = (ceilMode ? (room + a.stride - 1) / a.stride : room / a.stride) + 1;
  if (ceilMode && (out - 1) * a.stride >= in + a.padBegin) --out;  // last window starts in the overhang
  return out;
}

struct PoolCase {
  std::string name;
  bool max;
  int64_t N, C, H, W;
  Pool2dParams p;

  int64_t OH() const { return pooledSize(H, p.h, p.ceilMode); }
  int64_t OW() const { return pooledSize(W, p.w, p.ceilMode); }
  int64_t inSize() const { return N * C * H * W; }
  int64_t outSize() const { return N * C * OH() * OW(); }
};

std::vector<double> poolReference(const PoolCase& t, const std::vector<double>& x) {
  const int64_t OH = t.OH(), OW = t.OW();
  std::vector<double> out(t.outSize());
  for (int64_t nc = 0; nc < t.N * t.C; ++nc)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        const int64_t h0 = oh * t.p.h.stride - t.p.h.padBegin, w0 = ow * t.p.w.stride - t.p.w.padBegin;
        double best = -INFINITY, sum = 0.0;
        int64_t inBounds = 0;
        for (int64_t i = 0; i < t.p.h.kernel; ++i)
          for (int64_t j = 0; j < t.p.w.kernel; ++j) {
            const int64_t ih = h0 + i * t.p.h.dilation, iw = w0 + j * t.p.w.dilation;
            if (ih < 0 || ih >= t.H || iw < 0 || iw >= t.W) continue;
            const double v = x[(nc * t.H + ih) * t.W + iw];
            best = std::max(best, v);
            sum += v;
            ++inBounds;
          }
        double value = best;
        if (!t.max) {
          // count_include_pad: the window clipped to the padded map [-padBegin, size + padEnd).
          const int64_t hSpan = std::min(h0 + t.p.h.kernel, t.H + t.p.h.padEnd) - h0;
          const int64_t wSpan = std::min(w0 + t.p.w.kernel, t.W + t.p.w.padEnd) - w0;
          const int64_t divisor = t.p.countIncludePad ? hSpan * wSpan : inBounds;
          value = inBounds == 0 ? 0.0 : sum / static_cast<double>(divisor);
        }
        out[(nc * OH + oh) * OW + ow] = value;
      }
  return out;
}

void poolForward(const PoolCase& t, RowBand out, ConstRowBand in, int64_t a, int64_t b) {
  if (t.max)
    maxpool2d_rows_forward(out, in, t.p, a, b);
  else
    avgpool2d_rows_forward(out, in, t.p, a, b);
}

void poolBackward(const PoolCase& t, RowBand dIn, ConstRowBand dOut, ConstRowBand in, int64_t a, int64_t b) {
  if (t.max)
    maxpool2d_rows_backward(dIn, dOut, in, t.p, a, b);
  else
    avgpool2d_rows_backward(dIn, dOut, t.p, a, b);
}

struct PoolData {
  const PoolCase& t;
  std::vector<float> x, dOut;

  // Distinct, well-separated values so that finite differences never move a maximum.
  explicit PoolData(const PoolCase& tc)
      : t(tc), x(distinctFloats(tc.inSize(), 5)), dOut(randomFloats(tc.outSize(), 6)) {}

  ConstRowBand xBand() const { return full_band(x.data(), t.N, t.C, t.H, t.W); }
  ConstRowBand dOutBand() const { return full_band(dOut.data(), t.N, t.C, t.OH(), t.OW()); }
  std::vector<float> forward() const {
    std::vector<float> out(t.outSize());
    poolForward(t, full_band(out.data(), t.N, t.C, t.OH(), t.OW()), xBand(), 0, t.OH());
    return out;
  }
  std::vector<float> backward() const {
    std::vector<float> dx(t.inSize());
    poolBackward(t, full_band(dx.data(), t.N, t.C, t.H, t.W), dOutBand(), xBand(), 0, t.OH());
    return dx;
  }
};

// gtest prints a failing case by its name rather than its bytes.
void PrintTo(const PoolCase& c, std::ostream* os) { *os << c.name; }

class PoolTest : public ::testing::TestWithParam<PoolCase> {};

TEST_P(PoolTest, ForwardMatchesReference) {
  const PoolCase& t = GetParam();
  const PoolData d(t);
  EXPECT_LT(normalizedError(d.forward(), poolReference(t, toDouble(d.x))), 1e-6);
}

TEST_P(PoolTest, BackwardMatchesFiniteDifferences) {
  const PoolCase& t = GetParam();
  const PoolData d(t);
  std::vector<double> x = toDouble(d.x);
  const std::vector<double> dOut = toDouble(d.dOut);
  const std::vector<double> want = numericGradient(x, [&] { return dot(dOut, poolReference(t, x)); });
  EXPECT_LT(normalizedError(d.backward(), want), 1e-4);
}

TEST_P(PoolTest, RowPiecesMatchWholeMap) {
  const PoolCase& t = GetParam();
  const PoolData d(t);
  const int64_t OH = t.OH(), OW = t.OW();
  const std::vector<float> wholeOut = d.forward(), wholeDx = d.backward();
  for (int64_t pieces : {2, 3}) {
    SCOPED_TRACE("pieces = " + std::to_string(pieces));
    std::vector<float> out(t.outSize(), -99.0f), dx(t.inSize());
    for (const RowRange r : splitRows(OH, pieces)) {
      const RowRange inRows = window_input_rows(t.p.h, r.begin, r.end, t.H);
      const OwnedBand in = sliceRows(d.x, t.N, t.C, t.H, t.W, inRows);
      const OwnedBand dOut = sliceRows(d.dOut, t.N, t.C, OH, OW, r);
      OwnedBand outPiece(t.N, t.C, OH, OW, r), dxPiece(t.N, t.C, t.H, t.W, inRows);
      poolForward(t, outPiece.band, in.band, r.begin, r.end);
      copy_rows(full_band(out.data(), t.N, t.C, OH, OW), outPiece.band, r.begin, r.end);
      poolBackward(t, dxPiece.band, dOut.band, in.band, r.begin, r.end);
      add_rows(full_band(dx.data(), t.N, t.C, t.H, t.W), dxPiece.band, inRows.begin, inRows.end);
    }
    EXPECT_EQ(normalizedError(out, wholeOut), 0.0) << "forward";
    EXPECT_LT(normalizedError(dx, wholeDx), 1e-6) << "input gradient";
  }
}

TEST_P(PoolTest, RejectsBandsMissingNeededRows) {
  const PoolCase& t = GetParam();
  const PoolData d(t);
  const int64_t OH = t.OH(), OW = t.OW();
  const RowRange r{OH - 1, OH};  // the last window starts inside the map, so it reads rows
  const RowRange needed = window_input_rows(t.p.h, r.begin, r.end, t.H);
  ASSERT_FALSE(needed.empty());
  const OwnedBand shortIn = sliceRows(d.x, t.N, t.C, t.H, t.W, {needed.begin, needed.end - 1});
  const OwnedBand in = sliceRows(d.x, t.N, t.C, t.H, t.W, needed);
  const OwnedBand dOut = sliceRows(d.dOut, t.N, t.C, OH, OW, r);
  OwnedBand out(t.N, t.C, OH, OW, r), dx(t.N, t.C, t.H, t.W, needed);
  OwnedBand shortDx(t.N, t.C, t.H, t.W, {needed.begin + 1, needed.end});
  EXPECT_THROW(poolForward(t, out.band, shortIn.band, r.begin, r.end), std::invalid_argument);
  EXPECT_THROW(poolBackward(t, shortDx.band, dOut.band, in.band, r.begin, r.end), std::invalid_argument);
  EXPECT_NO_THROW(poolForward(t, out.band, in.band, r.begin, r.end));
  EXPECT_NO_THROW(poolBackward(t, dx.band, dOut.band, in.band, r.begin, r.end));
}

Pool2dParams pool(WindowAxis h, WindowAxis w, bool ceilMode, bool countIncludePad = false) {
  return {h, w, ceilMode, countIncludePad};
}

const PoolCase kPoolCases[] = {
    {"MaxDilated", true, 2, 3, 9, 6, pool(axis(3, 2, 1, 1, 2), axis(2, 1, 0, 1), false)},
    {"MaxDilatedCeil", true, 2, 3, 10, 7, pool(axis(3, 2, 1, 0, 2), axis(2, 2, 1, 0), true)},
    {"MaxCeil", true, 2, 2, 8, 7, pool(axis(3, 2), axis(3, 2), true)},
    {"MaxCeilDropsLastWindow", true, 1, 2, 5, 5, pool(axis(2, 2, 1, 1), axis(2, 2, 1, 1), true)},
    {"MaxSame3x3", true, 2, 3, 7, 5, pool(axis(3, 1, 1, 1), axis(3, 1, 1, 1), false)},
    {"AvgIncludePad", false, 2, 3, 9, 6, pool(axis(3, 2, 1, 0), axis(3, 2, 0, 1), false, true)},
    {"AvgExcludePad", false, 2, 3, 9, 6, pool(axis(3, 2, 1, 0), axis(3, 2, 0, 1), false, false)},
    {"AvgCeilIncludePad", false, 2, 2, 6, 7, pool(axis(3, 2, 1, 1), axis(3, 2, 1, 1), true, true)},
    {"AvgCeilExcludePad", false, 2, 2, 6, 7, pool(axis(3, 2, 1, 1), axis(3, 2, 1, 1), true, false)},
    {"AvgAsymmetricCeil", false, 1, 3, 9, 8, pool(axis(3, 2, 0, 2), axis(2, 2, 1, 0), true, true)},
    {"AvgPlain2x2", false, 2, 2, 7, 5, pool(axis(2, 2), axis(2, 2), false)},
};

INSTANTIATE_TEST_SUITE_P(Cases, PoolTest, ::testing::ValuesIn(kPoolCases),
                         [](const ::testing::TestParamInfo<PoolCase>& info) { return info.param.name; });

// Values PyTorch gives for avg_pool over [1..6], kernel 3, stride 2, padding 1, ceil_mode:
// windows {pad,1,2} {2,3,4} {4,5,6} {6,pad}; the last is clipped to the padded extent 7.
TEST(AvgPoolDivisor, CeilModeAndCountIncludePadByHand) {
  const std::vector<float> x{1, 2, 3, 4, 5, 6};
  for (const bool includePad : {true, false}) {
    const Pool2dParams p = pool(axis(1), axis(3, 2, 1, 1), true, includePad);
    std::vector<float> y(4, -1.0f);
    avgpool2d_rows_forward(full_band(y.data(), 1, 1, 1, 4), full_band(x.data(), 1, 1, 1, 6), p, 0, 1);
    const std::vector<float> want = includePad ? std::vector<float>{1, 3, 5, 3} : std::vector<float>{1.5f, 3, 5, 6};
    EXPECT_EQ(y, want) << "count_include_pad = " << includePad;

    std::vector<float> dx(6, 0.0f), dy{1, 1, 1, 1};
    avgpool2d_rows_backward(full_band(dx.data(), 1, 1, 1, 6), full_band(dy.data(), 1, 1, 1, 4), p, 0, 1);
    const std::vector<float> wantDx =
        includePad ? std::vector<float>{1.f / 3, 2.f / 3, 1.f / 3, 2.f / 3, 1.f / 3, 1.f / 3 + 0.5f}
                   : std::vector<float>{0.5f, 0.5f + 1.f / 3, 1.f / 3, 2.f / 3, 1.f / 3, 1.f / 3 + 1};
    EXPECT_LT(normalizedError(dx, wantDx), 1e-6) << "count_include_pad = " << includePad;
  }
}

TEST(AvgPoolDivisor, RejectsDilation) {
  std::vector<float> x(16), y(4);
  const Pool2dParams p = pool(axis(2, 2, 0, 0, 2), axis(2), false);
  EXPECT_THROW(avgpool2d_rows_forward(full_band(y.data(), 1, 1, 1, 4), full_band(x.data(), 1, 1, 4, 4), p, 0, 1),
               std::invalid_argument);
}

TEST(MaxPoolTies, GradientGoesToFirstMaximumInScanOrder) {
  // Constant input, 3x3 windows with stride 1: every window's first element is its top-left.
  const std::vector<float> x(5 * 5, 2.0f), dy(3 * 3, 1.0f);
  std::vector<float> y(9), dx(25, 0.0f);
  const Pool2dParams p = pool(axis(3), axis(3), false);
  maxpool2d_rows_forward(full_band(y.data(), 1, 1, 3, 3), full_band(x.data(), 1, 1, 5, 5), p, 0, 3);
  EXPECT_EQ(y, std::vector<float>(9, 2.0f));
  maxpool2d_rows_backward(full_band(dx.data(), 1, 1, 5, 5), full_band(dy.data(), 1, 1, 3, 3),
                          full_band(x.data(), 1, 1, 5, 5), p, 0, 3);
  for (int64_t h = 0; h < 5; ++h)
    for (int64_t w = 0; w < 5; ++w) EXPECT_EQ(dx[h * 5 + w], h < 3 && w < 3 ? 1.0f : 0.0f) << h << "," << w;
}

TEST(MaxPoolTies, PaddingNeverWinsAndNanPropagates) {
  // All inputs negative with padding 1: padding must not contribute a 0.
  std::vector<float> x{-3, -2, -4, -1};
  std::vector<float> y(4);
  const Pool2dParams p = pool(axis(2, 1, 1, 0), axis(2, 1, 1, 0), false);
  maxpool2d_rows_forward(full_band(y.data(), 1, 1, 2, 2), full_band(x.data(), 1, 1, 2, 2), p, 0, 2);
  EXPECT_EQ(y, (std::vector<float>{-3, -2, -3, -1}));
  x[2] = std::numeric_limits<float>::quiet_NaN();
  maxpool2d_rows_forward(full_band(y.data(), 1, 1, 2, 2), full_band(x.data(), 1, 1, 2, 2), p, 0, 2);
  EXPECT_FALSE(std::isnan(y[0]));
  EXPECT_FALSE(std::isnan(y[1]));
  EXPECT_TRUE(std::isnan(y[2]));
  EXPECT_TRUE(std::isnan(y[3]));
}

// The maxpool kernels (a vectorised loop over the columns whose windows lie inside the row)
// against their scalar reference, bit for bit (memcmp: NaN payloads and signed zeros too):
// random inputs and tie-heavy ones (few distinct values, +-0, -inf, some NaN), the common
// 3x3 s2 p1 and 2x2 s2 and others (stride 1 and 3, dilation, ceil_mode, asymmetric padding),
// the whole map and row bands (the input gradient a band with other rows than the input's).
TEST(MaxPoolFast, BitIdenticalToScalarReference) {
  struct Config {
    const char* name;
    Pool2dParams p;
  };
  const Config configs[] = {
      {"3x3 s2 p1", pool(axis(3, 2, 1, 1), axis(3, 2, 1, 1), false)},
      {"2x2 s2", pool(axis(2, 2), axis(2, 2), false)},
      {"2x2 s2 ceil", pool(axis(2, 2), axis(2, 2), true)},
      {"3x3 s1 p1", pool(axis(3, 1, 1, 1), axis(3, 1, 1, 1), false)},
      {"3x3 s2 ceil", pool(axis(3, 2), axis(3, 2), true)},
      {"3x2 s3 asym", pool(axis(3, 3, 2, 0), axis(2, 3, 0, 1), false)},
      {"2x2 s1 d2 p1", pool(axis(2, 1, 1, 1, 2), axis(2, 1, 1, 1, 2), false)},
      {"1x4 s1x2", pool(axis(1, 1), axis(4, 2, 1, 2), false)},
  };
  constexpr int64_t N = 2, C = 3;
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  auto bits = [](const std::vector<float>& v) {
    std::vector<uint32_t> b(v.size());
    std::memcpy(b.data(), v.data(), v.size() * sizeof(float));
    return b;
  };
  uint32_t seed = 900;
  int64_t ties = 0;
  for (const Config& cfg : configs)
    for (const auto& [H, W] : {std::pair<int64_t, int64_t>{11, 13}, {8, 12}, {7, 4}})
      for (bool tieHeavy : {false, true}) {
        const Pool2dParams& p = cfg.p;
        const int64_t OH = pooledSize(H, p.h, p.ceilMode), OW = pooledSize(W, p.w, p.ceilMode);
        if (OH <= 0 || OW <= 0) continue;
        SCOPED_TRACE(std::string(cfg.name) + " " + std::to_string(H) + "x" + std::to_string(W) +
                     (tieHeavy ? " ties" : " random"));
        std::vector<float> x = randomFloats(N * C * H * W, seed++, -2.0f, 2.0f);
        if (tieHeavy) {
          const float few[] = {1.0f, 1.0f, 0.0f, -0.0f, 2.0f, -inf, 2.0f, 1.0f};
          const std::vector<float> pick = randomFloats(N * C * H * W, seed++, 0.0f, 1.0f);
          for (size_t i = 0; i < x.size(); ++i) x[i] = pick[i] > 0.97f ? nan : few[static_cast<size_t>(pick[i] * 8) % 8];
          ties += std::count(x.begin(), x.end(), 2.0f);
        }
        const std::vector<float> dy = randomFloats(N * C * OH * OW, seed++), dx0 = randomFloats(N * C * H * W, seed++);
        // The whole map, then two bands of output rows.
        for (RowRange r : {RowRange{0, OH}, RowRange{1, std::min<int64_t>(3, OH)}, RowRange{OH - 1, OH}}) {
          if (r.begin >= r.end) continue;
          const RowRange need = window_input_rows(p.h, r.begin, r.end, H);
          const OwnedBand in = sliceRows(x, N, C, H, W, need);
          OwnedBand fast(N, C, OH, OW, r, 7.0f), ref(N, C, OH, OW, r, 7.0f);
          maxpool2d_rows_forward(fast.band, in.band, p, r.begin, r.end);
          maxpool2d_rows_forward_reference(ref.band, in.band, p, r.begin, r.end);
          EXPECT_EQ(bits(fast.storage), bits(ref.storage)) << "forward rows " << r.begin << ".." << r.end;
          // dIn holds a row more on each side where there is one: other rows than `in`.
          const RowRange wider{std::max<int64_t>(need.begin - 1, 0), std::min(need.end + 1, H)};
          OwnedBand dFast = sliceRows(dx0, N, C, H, W, wider), dRef = sliceRows(dx0, N, C, H, W, wider);
          const OwnedBand dOut = sliceRows(dy, N, C, OH, OW, r);
          maxpool2d_rows_backward(dFast.band, dOut.band, in.band, p, r.begin, r.end);
          maxpool2d_rows_backward_reference(dRef.band, dOut.band, in.band, p, r.begin, r.end);
          EXPECT_EQ(bits(dFast.storage), bits(dRef.storage)) << "backward rows " << r.begin << ".." << r.end;
        }
      }
  EXPECT_GT(ties, 100);
}

TEST(GlobalAvgPool, ForwardAndBackwardByHand) {
  const std::vector<float> x{1, 2, 3, 4, 10, 20, 30, 40, 0, 0, 0, 8};  // N = 3, C = 1, HW = 4
  std::vector<float> y(3);
  global_avgpool_forward(y.data(), x.data(), 3, 1, 4);
  EXPECT_EQ(y, (std::vector<float>{2.5f, 25.0f, 2.0f}));
  std::vector<float> dx(12, 1.0f);
  const std::vector<float> dy{4, -8, 2};
  global_avgpool_backward(dx.data(), dy.data(), 3, 1, 4);
  EXPECT_EQ(dx, (std::vector<float>{2, 2, 2, 2, -1, -1, -1, -1, 1.5f, 1.5f, 1.5f, 1.5f}));
}

}  // namespace
}  // namespace lrc::cpu

// conv_transpose2d_rows_*: forward against direct loops (the ONNX ConvTranspose formula),
// backward against central differences, strips of output rows at any start (off the stride's
// grid) against the whole map, and the row rule (ops::transposedInputRows) against brute force.
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "ops/Window.h"
#include "runtime/cpu/Conv.h"
#include "test/unit/cpu_kernels_test_util.h"

namespace lrc::cpu {
namespace {

using testing::axis;
using testing::dot;
using testing::normalizedError;
using testing::numericGradient;
using testing::OwnedBand;
using testing::randomFloats;
using testing::sliceRows;
using testing::toDouble;

// Input N x Cin x H x W, output N x Cout x OH x OW; p is the equivalent convolution (its
// padEnd included), outPad ONNX's output_padding.
struct ConvTCase {
  std::string name;
  int64_t N, Cin, H, W, Cout;
  Conv2dParams p;
  int64_t outPadH, outPadW;
  bool bias;

  // Written out here (ONNX's formula) rather than taken from the runtime.
  int64_t OH() const {
    return p.h.stride * (H - 1) + outPadH + p.h.dilation * (p.h.kernel - 1) + 1 - p.h.padBegin - p.h.padEnd;
  }
  int64_t OW() const {
    return p.w.stride * (W - 1) + outPadW + p.w.dilation * (p.w.kernel - 1) + 1 - p.w.padBegin - p.w.padEnd;
  }
  int64_t inSize() const { return N * Cin * H * W; }
  int64_t outSize() const { return N * Cout * OH() * OW(); }
  int64_t weightSize() const { return Cin * (Cout / p.group) * p.h.kernel * p.w.kernel; }
};

void PrintTo(const ConvTCase& c, std::ostream* os) { *os << c.name; }

// Direct scatter loops in double: y[n][g*Coutg + co][ih*s - p + i*d][iw*s - p + j*d] +=
// x[n][ci][ih][iw] * w[ci][co][i][j] for ci in group g.
std::vector<double> reference(const ConvTCase& t, const std::vector<double>& x, const std::vector<double>& w,
                              const std::vector<double>& b) {
  const int64_t OH = t.OH(), OW = t.OW(), Cing = t.Cin / t.p.group, Coutg = t.Cout / t.p.group;
  const int64_t kH = t.p.h.kernel, kW = t.p.w.kernel;
  std::vector<double> y(t.outSize(), 0.0);
  for (int64_t n = 0; n < t.N; ++n)
    for (int64_t co = 0; co < t.Cout; ++co)
      for (int64_t i = 0; i < OH * OW; ++i) y[(n * t.Cout + co) * OH * OW + i] = b.empty() ? 0.0 : b[co];
  for (int64_t n = 0; n < t.N; ++n)
    for (int64_t ci = 0; ci < t.Cin; ++ci)
      for (int64_t ih = 0; ih < t.H; ++ih)
        for (int64_t iw = 0; iw < t.W; ++iw)
          for (int64_t co = 0; co < Coutg; ++co)
            for (int64_t i = 0; i < kH; ++i)
              for (int64_t j = 0; j < kW; ++j) {
                const int64_t oh = ih * t.p.h.stride - t.p.h.padBegin + i * t.p.h.dilation;
                const int64_t ow = iw * t.p.w.stride - t.p.w.padBegin + j * t.p.w.dilation;
                if (oh < 0 || oh >= OH || ow < 0 || ow >= OW) continue;
                const int64_t g = ci / Cing;
                y[((n * t.Cout + g * Coutg + co) * OH + oh) * OW + ow] +=
                    x[((n * t.Cin + ci) * t.H + ih) * t.W + iw] * w[((ci * Coutg + co) * kH + i) * kW + j];
              }
  return y;
}

struct ConvTData {
  const ConvTCase& t;
  std::vector<float> x, w, b, dOut;
  explicit ConvTData(const ConvTCase& tc)
      : t(tc),
        x(randomFloats(tc.inSize(), 11)),
        w(randomFloats(tc.weightSize(), 12)),
        b(tc.bias ? randomFloats(tc.Cout, 13) : std::vector<float>{}),
        dOut(randomFloats(tc.outSize(), 14)) {}
  const float* bias() const { return t.bias ? b.data() : nullptr; }
  ConstRowBand xBand() const { return full_band(x.data(), t.N, t.Cin, t.H, t.W); }
  ConstRowBand dOutBand() const { return full_band(dOut.data(), t.N, t.Cout, t.OH(), t.OW()); }
  RowRange xRows(int64_t a, int64_t b) const { return kernels::transposed_input_rows(t.p.h, a, b, t.H); }
  std::vector<float> workspace(int64_t a, int64_t b) const {
    return std::vector<float>(conv2d_workspace_floats(t.p, t.Cout, t.W, xRows(a, b).size()) + 1);
  }
};

class ConvTransposeTest : public ::testing::TestWithParam<ConvTCase> {};

TEST_P(ConvTransposeTest, ForwardMatchesReference) {
  const ConvTCase& t = GetParam();
  const ConvTData d(t);
  std::vector<float> y(t.outSize(), 7.0f);  // the kernel overwrites its rows
  std::vector<float> ws = d.workspace(0, t.OH());
  conv_transpose2d_rows_forward(full_band(y.data(), t.N, t.Cout, t.OH(), t.OW()), d.xBand(), d.w.data(), d.bias(), t.p,
                                0, t.OH(), ws.data());
  EXPECT_LT(normalizedError(y, reference(t, toDouble(d.x), toDouble(d.w), t.bias ? toDouble(d.b) : std::vector<double>{})),
            1e-5);
}

TEST_P(ConvTransposeTest, BackwardMatchesFiniteDifferences) {
  const ConvTCase& t = GetParam();
  const ConvTData d(t);
  std::vector<float> dx(t.inSize()), dw(t.weightSize());
  std::vector<float> ws = d.workspace(0, t.OH());
  conv_transpose2d_rows_backward_data(full_band(dx.data(), t.N, t.Cin, t.H, t.W), d.dOutBand(), d.w.data(), t.p, 0,
                                      t.OH(), ws.data());
  conv_transpose2d_rows_backward_filter(dw.data(), d.dOutBand(), d.xBand(), t.p, 0, t.OH(), ws.data());

  std::vector<double> x = toDouble(d.x), w = toDouble(d.w), b = t.bias ? toDouble(d.b) : std::vector<double>{};
  const std::vector<double> dOut = toDouble(d.dOut);
  const auto loss = [&] { return dot(dOut, reference(t, x, w, b)); };
  EXPECT_LT(normalizedError(dx, numericGradient(x, loss)), 1e-4) << "input gradient";
  EXPECT_LT(normalizedError(dw, numericGradient(w, loss)), 1e-4) << "weight gradient";
}

// Output rows cut at every start (strips of 1, 2 and 3 rows from each offset): each strip
// reads only the input rows the row rule names and writes only its rows; the forward strips
// tile the whole output, and the backward strips (dy's rows only) add up to the whole gradient.
TEST_P(ConvTransposeTest, StripsAtAnyStartMatchWholeMap) {
  const ConvTCase& t = GetParam();
  const ConvTData d(t);
  const int64_t OH = t.OH();
  std::vector<float> whole(t.outSize()), dxWhole(t.inSize()), dwWhole(t.weightSize());
  {
    std::vector<float> ws = d.workspace(0, OH);
    conv_transpose2d_rows_forward(full_band(whole.data(), t.N, t.Cout, OH, t.OW()), d.xBand(), d.w.data(), d.bias(),
                                  t.p, 0, OH, ws.data());
    conv_transpose2d_rows_backward_data(full_band(dxWhole.data(), t.N, t.Cin, t.H, t.W), d.dOutBand(), d.w.data(), t.p,
                                        0, OH, ws.data());
    conv_transpose2d_rows_backward_filter(dwWhole.data(), d.dOutBand(), d.xBand(), t.p, 0, OH, ws.data());
  }
  for (int64_t size = 1; size <= 3; ++size)
    for (int64_t offset = 0; offset < size; ++offset) {
      std::vector<RowRange> strips;
      if (offset > 0) strips.push_back({0, offset});
      for (int64_t a = offset; a < OH; a += size) strips.push_back({a, std::min(a + size, OH)});
      std::vector<float> y(t.outSize(), 0.0f), dx(t.inSize(), 0.0f), dw(t.weightSize(), 0.0f);
      for (const RowRange r : strips) {
        const RowRange xr = d.xRows(r.begin, r.end);
        OwnedBand xBand = sliceRows(d.x, t.N, t.Cin, t.H, t.W, xr);
        OwnedBand dyBand = sliceRows(d.dOut, t.N, t.Cout, OH, t.OW(), r);
        OwnedBand yBand(t.N, t.Cout, OH, t.OW(), r, 5.0f);
        OwnedBand dxBand(t.N, t.Cin, t.H, t.W, xr);
        std::vector<float> ws = d.workspace(r.begin, r.end);
        conv_transpose2d_rows_forward(yBand.band, xBand.band, d.w.data(), d.bias(), t.p, r.begin, r.end, ws.data());
        conv_transpose2d_rows_backward_data(dxBand.band, dyBand.band, d.w.data(), t.p, r.begin, r.end, ws.data());
        conv_transpose2d_rows_backward_filter(dw.data(), dyBand.band, xBand.band, t.p, r.begin, r.end, ws.data());
        copy_rows(full_band(y.data(), t.N, t.Cout, OH, t.OW()), yBand.band, r.begin, r.end);
        if (!xr.empty()) add_rows(full_band(dx.data(), t.N, t.Cin, t.H, t.W), dxBand.band, xr.begin, xr.end);
      }
      const std::string where = "strips of " + std::to_string(size) + " from " + std::to_string(offset);
      EXPECT_LT(normalizedError(y, whole), 1e-5) << where;
      EXPECT_LT(normalizedError(dx, dxWhole), 1e-5) << where;
      EXPECT_LT(normalizedError(dw, dwWhole), 1e-5) << where;
    }
}

// The column matrix covers the input rows the output rows need, in chunks of 1 and 2 rows
// under a cap (p.scratchCapBytes): the whole map and its strips agree with the unchunked
// kernels (cap 0) within float rounding, in the workspace conv2d_workspace_floats sizes.
TEST_P(ConvTransposeTest, ChunkedRowsMatchUnchunked) {
  const ConvTCase& t = GetParam();
  ConvTCase whole = t;
  whole.p.scratchCapBytes = 0;
  const ConvTData ref(whole), d(t);
  const int64_t OH = t.OH(), rowFloats = conv2d_workspace_floats(whole.p, t.Cout, t.W, 1);
  auto run = [&](const Conv2dParams& p, int64_t pieces, std::vector<float>& y, std::vector<float>& dx,
                 std::vector<float>& dw) {
    for (const RowRange r : testing::splitRows(OH, pieces)) {
      const RowRange xr = d.xRows(r.begin, r.end);
      const int64_t size = conv2d_workspace_floats(p, t.Cout, t.W, xr.size());
      std::vector<float> ws(size + 4, -7.0f);
      OwnedBand yBand(t.N, t.Cout, OH, t.OW(), r, 5.0f), dxBand(t.N, t.Cin, t.H, t.W, xr);
      const OwnedBand xBand = sliceRows(d.x, t.N, t.Cin, t.H, t.W, xr);
      const OwnedBand dyBand = sliceRows(d.dOut, t.N, t.Cout, OH, t.OW(), r);
      conv_transpose2d_rows_forward(yBand.band, xBand.band, d.w.data(), d.bias(), p, r.begin, r.end, ws.data());
      conv_transpose2d_rows_backward_data(dxBand.band, dyBand.band, d.w.data(), p, r.begin, r.end, ws.data());
      conv_transpose2d_rows_backward_filter(dw.data(), dyBand.band, xBand.band, p, r.begin, r.end, ws.data());
      for (int64_t i = size; i < size + 4; ++i) ASSERT_EQ(ws[i], -7.0f) << "wrote past the workspace at " << i;
      copy_rows(full_band(y.data(), t.N, t.Cout, OH, t.OW()), yBand.band, r.begin, r.end);
      if (!xr.empty()) add_rows(full_band(dx.data(), t.N, t.Cin, t.H, t.W), dxBand.band, xr.begin, xr.end);
    }
  };
  for (int64_t pieces : {1, 2}) {
    std::vector<float> wantY(t.outSize()), wantDx(t.inSize()), wantDw(t.weightSize());
    run(whole.p, pieces, wantY, wantDx, wantDw);
    for (int64_t rows : {1, 2}) {
      SCOPED_TRACE(std::to_string(pieces) + " pieces, chunks of " + std::to_string(rows) + " rows");
      Conv2dParams p = t.p;
      p.scratchCapBytes = rows * rowFloats * 4;
      EXPECT_EQ(conv2d_workspace_floats(p, t.Cout, t.W, t.H), rowFloats * std::min(rows, t.H));
      std::vector<float> y(t.outSize()), dx(t.inSize()), dw(t.weightSize());
      run(p, pieces, y, dx, dw);
      EXPECT_LT(normalizedError(y, wantY), 1e-6) << "forward";
      EXPECT_LT(normalizedError(dx, wantDx), 1e-6) << "input gradient";
      EXPECT_LT(normalizedError(dw, wantDw), 1e-6) << "weight gradient";
    }
  }
}

// The row rule holds every input row with a tap in [a, b), for every range, and is exactly
// their hull without dilation (with it, as the convolution's rule, the hull of the taps'
// reach may hold rows none of whose taps land in [a, b)).
TEST_P(ConvTransposeTest, RowRuleIsExact) {
  const ConvTCase& t = GetParam();
  const WindowAxis& h = t.p.h;
  for (int64_t a = 0; a < t.OH(); ++a)
    for (int64_t b = a + 1; b <= t.OH(); ++b) {
      int64_t lo = t.H, hi = 0;
      for (int64_t i = 0; i < t.H; ++i)
        for (int64_t k = 0; k < h.kernel; ++k) {
          const int64_t o = i * h.stride - h.padBegin + k * h.dilation;
          if (o >= a && o < b) lo = std::min(lo, i), hi = std::max(hi, i + 1);
        }
      const auto [begin, end] = ops::transposedInputRows(h, a, b, t.H);
      if (lo < hi) {
        EXPECT_LE(begin, lo) << a << ".." << b;
        EXPECT_GE(end, hi) << a << ".." << b;
      }
      if (h.dilation == 1) {
        EXPECT_EQ(begin, lo < hi ? lo : end) << a << ".." << b;
        if (lo < hi) {
          EXPECT_EQ(end, hi) << a << ".." << b;
        }
      }
    }
}

Conv2dParams params(WindowAxis h, WindowAxis w, int64_t group = 1) { return {h, w, group}; }

INSTANTIATE_TEST_SUITE_P(
    Cases, ConvTransposeTest,
    ::testing::Values(
        // PyTorch's usual upsamplers: kernel 2 stride 2; kernel 4 stride 2 pad 1; kernel 3 stride 2 pad 1 output_padding 1.
        ConvTCase{"k2s2", 2, 3, 3, 4, 2, params(axis(2, 2), axis(2, 2)), 0, 0, true},
        ConvTCase{"k4s2p1", 1, 2, 3, 3, 3, params(axis(4, 2, 1, 1), axis(4, 2, 1, 1)), 0, 0, false},
        ConvTCase{"k3s2p1op1", 2, 2, 3, 3, 2, params(axis(3, 2, 1, 1), axis(3, 2, 1, 1)), 1, 1, true},
        ConvTCase{"k3s1p1", 1, 3, 4, 3, 2, params(axis(3, 1, 1, 1), axis(3, 1, 1, 1)), 0, 0, true},
        ConvTCase{"k3s3asym", 1, 2, 3, 2, 2, params(axis(3, 3, 0, 2), axis(2, 3, 1, 0)), 2, 1, false},
        ConvTCase{"dilation2", 1, 2, 3, 3, 2, params(axis(3, 2, 1, 0, 2), axis(2, 1, 0, 1, 2)), 1, 0, true},
        ConvTCase{"group2", 1, 4, 3, 3, 6, params(axis(3, 2, 1, 1), axis(3, 2, 1, 1), 2), 1, 1, true},
        ConvTCase{"direct1x1", 2, 3, 3, 2, 2, params(axis(1), axis(1)), 0, 0, true}),
    [](const ::testing::TestParamInfo<ConvTCase>& info) { return info.param.name; });

}  // namespace
}  // namespace lrc::cpu

// conv2d_rows_*: forward against a direct-loop reference, backward against central
// differences, and row pieces (bands of only the rows needed) against the whole map.
#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

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
using testing::splitRows;
using testing::toDouble;

struct ConvCase {
  std::string name;
  int64_t N, C, H, W, K;
  Conv2dParams p;
  bool bias;

  // Written out here rather than taken from the runtime, so that a wrong runtime formula fails.
  int64_t OH() const { return (H + p.h.padBegin + p.h.padEnd - p.h.dilation * (p.h.kernel - 1) - 1) / p.h.stride + 1; }
  int64_t OW() const { return (W + p.w.padBegin + p.w.padEnd - p.w.dilation * (p.w.kernel - 1) - 1) / p.w.stride + 1; }
  int64_t inSize() const { return N * C * H * W; }
  int64_t outSize() const { return N * K * OH() * OW(); }
  int64_t weightSize() const { return K * (C / p.group) * p.h.kernel * p.w.kernel; }
};

// Direct loops in double: out[n][k][oh][ow] = b[k] + sum over the group's channels and taps.
std::vector<double> convReference(const ConvCase& t, const std::vector<double>& x, const std::vector<double>& w,
                                  const std::vector<double>& b) {
  const int64_t OH = t.OH(), OW = t.OW(), Cg = t.C / t.p.group, Kg = t.K / t.p.group;
  const int64_t kH = t.p.h.kernel, kW = t.p.w.kernel;
  std::vector<double> out(t.outSize());
  for (int64_t n = 0; n < t.N; ++n)
    for (int64_t k = 0; k < t.K; ++k)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double acc = b.empty() ? 0.0 : b[k];
          const int64_t g = k / Kg;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t i = 0; i < kH; ++i)
              for (int64_t j = 0; j < kW; ++j) {
                const int64_t ih = oh * t.p.h.stride - t.p.h.padBegin + i * t.p.h.dilation;
                const int64_t iw = ow * t.p.w.stride - t.p.w.padBegin + j * t.p.w.dilation;
                if (ih < 0 || ih >= t.H || iw < 0 || iw >= t.W) continue;
                acc += x[((n * t.C + g * Cg + c) * t.H + ih) * t.W + iw] * w[((k * Cg + c) * kH + i) * kW + j];
              }
          out[((n * t.K + k) * OH + oh) * OW + ow] = acc;
        }
  return out;
}

// Random inputs of one case and helpers to run the kernels on whole maps.
struct ConvData {
  const ConvCase& t;
  std::vector<float> x, w, b, dOut;

  explicit ConvData(const ConvCase& tc)
      : t(tc),
        x(randomFloats(tc.inSize(), 1)),
        w(randomFloats(tc.weightSize(), 2)),
        b(tc.bias ? randomFloats(tc.K, 3) : std::vector<float>{}),
        dOut(randomFloats(tc.outSize(), 4)) {}

  const float* bias() const { return t.bias ? b.data() : nullptr; }
  ConstRowBand xBand() const { return full_band(x.data(), t.N, t.C, t.H, t.W); }
  ConstRowBand dOutBand() const { return full_band(dOut.data(), t.N, t.K, t.OH(), t.OW()); }

  std::vector<float> forward() const {
    std::vector<float> out(t.outSize());
    std::vector<float> ws(conv2d_workspace_floats(t.p, t.C, t.OW(), t.OH()));
    conv2d_rows_forward(full_band(out.data(), t.N, t.K, t.OH(), t.OW()), xBand(), w.data(), bias(), t.p, 0, t.OH(),
                        ws.data());
    return out;
  }
  // Adds the whole backward into dx, dw, db.
  void backward(std::vector<float>& dx, std::vector<float>& dw, std::vector<float>& db) const {
    std::vector<float> ws(conv2d_workspace_floats(t.p, t.C, t.OW(), t.OH()));
    conv2d_rows_backward_data(full_band(dx.data(), t.N, t.C, t.H, t.W), dOutBand(), w.data(), t.p, 0, t.OH(),
                              ws.data());
    conv2d_rows_backward_filter(dw.data(), t.bias ? db.data() : nullptr, dOutBand(), xBand(), t.p, 0, t.OH(),
                                ws.data());
  }
};

// gtest prints a failing case by its name rather than its bytes.
void PrintTo(const ConvCase& c, std::ostream* os) { *os << c.name; }

class ConvTest : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvTest, ForwardMatchesReference) {
  const ConvCase& t = GetParam();
  const ConvData d(t);
  const std::vector<double> want =
      convReference(t, toDouble(d.x), toDouble(d.w), t.bias ? toDouble(d.b) : std::vector<double>{});
  EXPECT_LT(normalizedError(d.forward(), want), 1e-5);
}

TEST_P(ConvTest, BackwardMatchesFiniteDifferences) {
  const ConvCase& t = GetParam();
  const ConvData d(t);
  std::vector<float> dx(t.inSize()), dw(t.weightSize()), db(t.K);
  d.backward(dx, dw, db);

  std::vector<double> x = toDouble(d.x), w = toDouble(d.w), b = t.bias ? toDouble(d.b) : std::vector<double>{};
  const std::vector<double> dOut = toDouble(d.dOut);
  const auto loss = [&] { return dot(dOut, convReference(t, x, w, b)); };
  EXPECT_LT(normalizedError(dx, numericGradient(x, loss)), 1e-4) << "input gradient";
  EXPECT_LT(normalizedError(dw, numericGradient(w, loss)), 1e-4) << "weight gradient";
  if (t.bias) {
    EXPECT_LT(normalizedError(db, numericGradient(b, loss)), 1e-4) << "bias gradient";
  }
}

TEST_P(ConvTest, BackwardAccumulates) {
  const ConvCase& t = GetParam();
  const ConvData d(t);
  std::vector<float> dx1(t.inSize()), dw1(t.weightSize()), db1(t.K);
  d.backward(dx1, dw1, db1);
  std::vector<float> dx2(t.inSize()), dw2(t.weightSize()), db2(t.K);
  d.backward(dx2, dw2, db2);
  d.backward(dx2, dw2, db2);
  for (float& v : dx1) v *= 2;
  for (float& v : dw1) v *= 2;
  for (float& v : db1) v *= 2;
  EXPECT_LT(normalizedError(dx2, dx1), 1e-6);
  EXPECT_LT(normalizedError(dw2, dw1), 1e-6);
  if (t.bias) {
    EXPECT_LT(normalizedError(db2, db1), 1e-6);
  }
}

TEST_P(ConvTest, RowPiecesMatchWholeMap) {
  const ConvCase& t = GetParam();
  const ConvData d(t);
  const int64_t OH = t.OH(), OW = t.OW();
  const std::vector<float> wholeOut = d.forward();
  std::vector<float> wholeDx(t.inSize()), wholeDw(t.weightSize()), wholeDb(t.K);
  d.backward(wholeDx, wholeDw, wholeDb);

  for (int64_t pieces : {2, 3}) {
    SCOPED_TRACE("pieces = " + std::to_string(pieces));
    std::vector<float> out(t.outSize(), -99.0f), dx(t.inSize()), dw(t.weightSize()), db(t.K);
    for (const RowRange r : splitRows(OH, pieces)) {
      const RowRange inRows = window_input_rows(t.p.h, r.begin, r.end, t.H);
      const OwnedBand in = sliceRows(d.x, t.N, t.C, t.H, t.W, inRows);
      const OwnedBand dOut = sliceRows(d.dOut, t.N, t.K, OH, OW, r);
      OwnedBand outPiece(t.N, t.K, OH, OW, r), dxPiece(t.N, t.C, t.H, t.W, inRows);
      std::vector<float> ws(conv2d_workspace_floats(t.p, t.C, OW, r.size()));

      conv2d_rows_forward(outPiece.band, in.band, d.w.data(), d.bias(), t.p, r.begin, r.end, ws.data());
      copy_rows(full_band(out.data(), t.N, t.K, OH, OW), outPiece.band, r.begin, r.end);
      conv2d_rows_backward_data(dxPiece.band, dOut.band, d.w.data(), t.p, r.begin, r.end, ws.data());
      add_rows(full_band(dx.data(), t.N, t.C, t.H, t.W), dxPiece.band, inRows.begin, inRows.end);
      conv2d_rows_backward_filter(dw.data(), t.bias ? db.data() : nullptr, dOut.band, in.band, t.p, r.begin, r.end,
                                  ws.data());
    }
    EXPECT_LT(normalizedError(out, wholeOut), 1e-6) << "forward";
    EXPECT_LT(normalizedError(dx, wholeDx), 1e-6) << "input gradient";
    EXPECT_LT(normalizedError(dw, wholeDw), 1e-6) << "weight gradient";
    if (t.bias) {
      EXPECT_LT(normalizedError(db, wholeDb), 1e-6) << "bias gradient";
    }
  }
}

// Row ranges computed in place in whole-map bands: the bands hold more rows than the range,
// so row strides differ from the range's extent.
TEST_P(ConvTest, RowRangesOfWholeMapBands) {
  const ConvCase& t = GetParam();
  const ConvData d(t);
  const int64_t OH = t.OH(), OW = t.OW();
  const std::vector<float> wholeOut = d.forward();
  std::vector<float> wholeDx(t.inSize()), wholeDw(t.weightSize()), wholeDb(t.K);
  d.backward(wholeDx, wholeDw, wholeDb);

  std::vector<float> out(t.outSize(), -99.0f), dx(t.inSize()), dw(t.weightSize()), db(t.K);
  for (const RowRange r : splitRows(OH, 3)) {
    std::vector<float> ws(conv2d_workspace_floats(t.p, t.C, OW, r.size()));
    conv2d_rows_forward(full_band(out.data(), t.N, t.K, OH, OW), d.xBand(), d.w.data(), d.bias(), t.p, r.begin, r.end,
                        ws.data());
    conv2d_rows_backward_data(full_band(dx.data(), t.N, t.C, t.H, t.W), d.dOutBand(), d.w.data(), t.p, r.begin, r.end,
                              ws.data());
    conv2d_rows_backward_filter(dw.data(), t.bias ? db.data() : nullptr, d.dOutBand(), d.xBand(), t.p, r.begin, r.end,
                                ws.data());
  }
  EXPECT_LT(normalizedError(out, wholeOut), 1e-6) << "forward";
  EXPECT_LT(normalizedError(dx, wholeDx), 1e-6) << "input gradient";
  EXPECT_LT(normalizedError(dw, wholeDw), 1e-6) << "weight gradient";
  if (t.bias) {
    EXPECT_LT(normalizedError(db, wholeDb), 1e-6) << "bias gradient";
  }
}

// The kernels run a band's output rows in chunks whose columns fit in p.scratchCapBytes.
// Caps of 1, 2 and 3 rows' columns put chunk boundaries mid-band (and mid-piece); the results
// agree with the unchunked kernels (cap 0) within float rounding (the weight gradient sums the
// chunks' products in another order), and the kernels write no float past the workspace
// conv2d_workspace_floats sizes, which is the chunk's columns, not the band's.
TEST_P(ConvTest, ChunkedRowsMatchUnchunked) {
  const ConvCase& t = GetParam();
  const ConvData d(t);
  const int64_t OH = t.OH(), OW = t.OW();
  Conv2dParams whole = t.p;
  whole.scratchCapBytes = 0;
  const int64_t rowFloats = conv2d_workspace_floats(whole, t.C, OW, 1);
  ASSERT_EQ(conv2d_workspace_floats(whole, t.C, OW, OH), rowFloats * OH);
  ConvCase unchunked = t;
  unchunked.p = whole;
  const ConvData ref(unchunked);
  const std::vector<float> wantOut = ref.forward();
  std::vector<float> wantDx(t.inSize()), wantDw(t.weightSize()), wantDb(t.K);
  ref.backward(wantDx, wantDw, wantDb);

  for (int64_t rows : {1, 2, 3}) {
    SCOPED_TRACE("chunk rows = " + std::to_string(rows));
    Conv2dParams p = t.p;
    p.scratchCapBytes = rows * rowFloats * 4 + 3;  // a few bytes short of one more row
    ASSERT_EQ(conv2d_chunk_rows(p, t.C, OW, OH), rowFloats == 0 ? OH : std::min(rows, OH));
    std::vector<float> out(t.outSize(), -99.0f), dx(t.inSize()), dw(t.weightSize()), db(t.K);
    for (const RowRange r : splitRows(OH, 2)) {
      const int64_t size = conv2d_workspace_floats(p, t.C, OW, r.size());
      EXPECT_EQ(size, rowFloats * std::min(rows, r.size()));
      constexpr float kCanary = -12345.0f;
      std::vector<float> ws(size + 8, kCanary);
      const RowRange inRows = window_input_rows(t.p.h, r.begin, r.end, t.H);
      const OwnedBand in = sliceRows(d.x, t.N, t.C, t.H, t.W, inRows);
      const OwnedBand dOut = sliceRows(d.dOut, t.N, t.K, OH, OW, r);
      OwnedBand outPiece(t.N, t.K, OH, OW, r), dxPiece(t.N, t.C, t.H, t.W, inRows);
      conv2d_rows_forward(outPiece.band, in.band, d.w.data(), d.bias(), p, r.begin, r.end, ws.data());
      copy_rows(full_band(out.data(), t.N, t.K, OH, OW), outPiece.band, r.begin, r.end);
      conv2d_rows_backward_data(dxPiece.band, dOut.band, d.w.data(), p, r.begin, r.end, ws.data());
      add_rows(full_band(dx.data(), t.N, t.C, t.H, t.W), dxPiece.band, inRows.begin, inRows.end);
      conv2d_rows_backward_filter(dw.data(), t.bias ? db.data() : nullptr, dOut.band, in.band, p, r.begin, r.end,
                                  ws.data());
      for (int64_t i = size; i < size + 8; ++i) ASSERT_EQ(ws[i], kCanary) << "wrote past the workspace at " << i;
    }
    EXPECT_LT(normalizedError(out, wantOut), 1e-6) << "forward";
    EXPECT_LT(normalizedError(dx, wantDx), 1e-6) << "input gradient";
    EXPECT_LT(normalizedError(dw, wantDw), 1e-6) << "weight gradient";
    if (t.bias) {
      EXPECT_LT(normalizedError(db, wantDb), 1e-6) << "bias gradient";
    }
  }
}

TEST_P(ConvTest, RejectsBandsMissingNeededRows) {
  const ConvCase& t = GetParam();
  const ConvData d(t);
  const int64_t OH = t.OH(), OW = t.OW();
  // The first output row that reads any input row.
  int64_t oh = 0;
  while (oh < OH && window_input_rows(t.p.h, oh, oh + 1, t.H).empty()) ++oh;
  ASSERT_LT(oh, OH);
  const RowRange r{oh, oh + 1};
  const RowRange needed = window_input_rows(t.p.h, r.begin, r.end, t.H);
  const OwnedBand shortIn = sliceRows(d.x, t.N, t.C, t.H, t.W, {needed.begin + 1, needed.end});
  const OwnedBand dOut = sliceRows(d.dOut, t.N, t.K, OH, OW, r);
  OwnedBand out(t.N, t.K, OH, OW, r), shortDx(t.N, t.C, t.H, t.W, {needed.begin, needed.end - 1});
  std::vector<float> ws(conv2d_workspace_floats(t.p, t.C, OW, r.size())), dw(t.weightSize());
  EXPECT_THROW(conv2d_rows_forward(out.band, shortIn.band, d.w.data(), d.bias(), t.p, r.begin, r.end, ws.data()),
               std::invalid_argument);
  EXPECT_THROW(conv2d_rows_backward_data(shortDx.band, dOut.band, d.w.data(), t.p, r.begin, r.end, ws.data()),
               std::invalid_argument);
  EXPECT_THROW(conv2d_rows_backward_filter(dw.data(), nullptr, dOut.band, shortIn.band, t.p, r.begin, r.end, ws.data()),
               std::invalid_argument);
  // The output band must hold the rows asked for.
  OwnedBand otherRows(t.N, t.K, OH, OW, {r.end, r.end});
  const OwnedBand in = sliceRows(d.x, t.N, t.C, t.H, t.W, needed);
  EXPECT_NO_THROW(conv2d_rows_forward(out.band, in.band, d.w.data(), d.bias(), t.p, r.begin, r.end, ws.data()));
  EXPECT_THROW(conv2d_rows_forward(otherRows.band, in.band, d.w.data(), d.bias(), t.p, r.begin, r.end, ws.data()),
               std::invalid_argument);
}

const ConvCase kConvCases[] = {
    // kernel 3x2, stride 2x1, asymmetric pads, dilation 2, odd sizes.
    {"Dilated", 2, 3, 7, 5, 4, {axis(3, 2, 1, 2, 2), axis(2, 1, 0, 1, 2), 1}, true},
    {"DilatedGroups2", 2, 4, 9, 5, 6, {axis(3, 2, 1, 2, 2), axis(2, 1, 0, 1, 2), 2}, false},
    {"Same3x3", 2, 3, 9, 6, 5, {axis(3, 1, 1, 1), axis(3, 1, 1, 1), 1}, true},
    {"Stride2Pad3x3", 1, 2, 8, 7, 3, {axis(3, 2, 1, 0), axis(3, 2, 0, 1), 1}, false},
    {"Pointwise", 2, 5, 7, 3, 4, {axis(1), axis(1), 1}, true},
    {"PointwiseGroups", 2, 4, 5, 3, 6, {axis(1), axis(1), 2}, false},
    {"PointwiseStride2", 2, 3, 7, 5, 4, {axis(1, 2), axis(1, 2), 1}, true},
    {"Depthwise", 2, 4, 9, 7, 4, {axis(3, 2, 1, 0), axis(3, 2, 1, 1), 4}, true},
    // Pads wider than the kernel: the first output rows read only padding.
    {"PaddingOnlyRows", 1, 2, 5, 4, 3, {axis(1, 1, 2, 1), axis(2, 1, 1, 0), 1}, true},
    {"Wide5x5Stride3", 2, 2, 11, 9, 2, {axis(5, 3, 2, 2), axis(5, 3, 2, 2), 1}, true},
};

INSTANTIATE_TEST_SUITE_P(Cases, ConvTest, ::testing::ValuesIn(kConvCases),
                         [](const ::testing::TestParamInfo<ConvCase>& info) { return info.param.name; });

TEST(ConvChecks, RejectsWrongOutputShapeAndMissingWorkspace) {
  const Conv2dParams p{axis(3, 1, 1, 1), axis(3, 1, 1, 1), 1};
  std::vector<float> x(1 * 2 * 5 * 5), w(3 * 2 * 3 * 3), out(1 * 3 * 6 * 5);
  std::vector<float> ws(conv2d_workspace_floats(p, 2, 5, 5));
  ASSERT_EQ(ws.size(), 2u * 9 * 5 * 5);
  const ConstRowBand in = full_band(x.data(), 1, 2, 5, 5);
  EXPECT_THROW(conv2d_rows_forward(full_band(out.data(), 1, 3, 6, 5), in, w.data(), nullptr, p, 0, 5, ws.data()),
               std::invalid_argument);
  EXPECT_THROW(conv2d_rows_forward(full_band(out.data(), 1, 3, 5, 5), in, w.data(), nullptr, p, 0, 5, nullptr),
               std::invalid_argument);
  EXPECT_THROW(conv2d_rows_forward(full_band(out.data(), 1, 3, 5, 5), in, w.data(), nullptr, p, 3, 6, ws.data()),
               std::invalid_argument);
  const Conv2dParams badGroup{axis(3, 1, 1, 1), axis(3, 1, 1, 1), 2};  // 2 does not divide 3 outputs
  EXPECT_THROW(conv2d_rows_forward(full_band(out.data(), 1, 3, 5, 5), in, w.data(), nullptr, badGroup, 0, 5, ws.data()),
               std::invalid_argument);
  EXPECT_NO_THROW(conv2d_rows_forward(full_band(out.data(), 1, 3, 5, 5), in, w.data(), nullptr, p, 0, 5, ws.data()));
}

TEST(ConvChecks, MessageNamesTheRows) {
  const Conv2dParams p{axis(3, 1, 1, 1), axis(1), 1};
  std::vector<float> x(1 * 1 * 3 * 2, 1.0f), w(3, 1.0f), out(1 * 1 * 8 * 2), ws(conv2d_workspace_floats(p, 1, 2, 2));
  const ConstRowBand in{x.data(), 1, 1, 8, 2, 2, 3};  // rows [2, 5) of 8
  try {
    conv2d_rows_forward(full_band(out.data(), 1, 1, 8, 2), in, w.data(), nullptr, p, 4, 6, ws.data());
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("conv2d_rows_forward"), std::string::npos) << message;
    EXPECT_NE(message.find("[2, 5)"), std::string::npos) << message;
    EXPECT_NE(message.find("[3, 7)"), std::string::npos) << message;
  }
}

// The cap bounds the workspace to whole rows' columns: as many rows as fit, at least one, at
// most the rows asked for; the plans' cap (ops::kConvScratchCapBytes) bounds a 4096-wide 3x3
// convolution over 64 channels (9 MiB a row) to one row.
TEST(ConvWorkspace, CapBoundsTheRows) {
  Conv2dParams p{axis(3, 1, 1, 1), axis(3, 1, 1, 1), 1};
  const int64_t row = 64 * 9 * 4096;
  EXPECT_EQ(conv2d_chunk_rows(p, 64, 4096, 64), 1);
  EXPECT_EQ(conv2d_workspace_floats(p, 64, 4096, 64), row);
  p.scratchCapBytes = 0;
  EXPECT_EQ(conv2d_workspace_floats(p, 64, 4096, 64), row * 64);
  p.scratchCapBytes = 5 * row * 4 - 1;
  EXPECT_EQ(conv2d_chunk_rows(p, 64, 4096, 64), 4);
  EXPECT_EQ(conv2d_chunk_rows(p, 64, 4096, 3), 3);
  EXPECT_EQ(conv2d_workspace_floats(p, 64, 4096, 3), row * 3);
  p.scratchCapBytes = 1;  // less than a row: one row
  EXPECT_EQ(conv2d_workspace_floats(p, 64, 4096, 64), row);
}

TEST(ConvWorkspace, DirectConvolutionNeedsNone) {
  EXPECT_EQ(kernels::conv2d_workspace_floats({axis(1), axis(1), 1}, 64, 32, 4), 0);
  EXPECT_EQ(kernels::conv2d_workspace_floats({axis(1, 2), axis(1, 2), 1}, 64, 16, 4), 64 * 16 * 4);
  EXPECT_EQ(kernels::conv2d_workspace_floats({axis(3, 1, 1, 1), axis(3, 1, 1, 1), 4}, 64, 32, 2), 16 * 9 * 32 * 2);
}

}  // namespace
}  // namespace lrc::cpu

// pad_rows_*: constant padding and cropping (negative pads) against a direct reference,
// backward against central differences, and row pieces against the whole map.
#include <gtest/gtest.h>

#include <algorithm>
#include <initializer_list>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/cpu/Pad.h"
#include "test/unit/cpu_kernels_test_util.h"

namespace lrc::cpu {
namespace {

using testing::dot;
using testing::normalizedError;
using testing::numericGradient;
using testing::OwnedBand;
using testing::randomFloats;
using testing::sliceRows;
using testing::splitRows;
using testing::toDouble;

struct PadCase {
  std::string name;
  int64_t N, C, H, W;
  PadParams p;

  int64_t ON() const { return N + p.pads[0] + p.pads[4]; }
  int64_t OC() const { return C + p.pads[1] + p.pads[5]; }
  int64_t OH() const { return H + p.pads[2] + p.pads[6]; }
  int64_t OW() const { return W + p.pads[3] + p.pads[7]; }
  int64_t inSize() const { return N * C * H * W; }
  int64_t outSize() const { return ON() * OC() * OH() * OW(); }
};

std::vector<double> padReference(const PadCase& t, const std::vector<double>& x) {
  std::vector<double> out;
  const int64_t* q = t.p.pads;
  for (int64_t n = 0; n < t.ON(); ++n)
    for (int64_t c = 0; c < t.OC(); ++c)
      for (int64_t h = 0; h < t.OH(); ++h)
        for (int64_t w = 0; w < t.OW(); ++w) {
          const int64_t in = n - q[0], ic = c - q[1], ih = h - q[2], iw = w - q[3];
          const bool inside = in >= 0 && in < t.N && ic >= 0 && ic < t.C && ih >= 0 && ih < t.H && iw >= 0 && iw < t.W;
          out.push_back(inside ? x[((in * t.C + ic) * t.H + ih) * t.W + iw] : t.p.value);
        }
  return out;
}

// gtest prints a failing case by its name rather than its bytes.
void PrintTo(const PadCase& c, std::ostream* os) { *os << c.name; }

class PadTest : public ::testing::TestWithParam<PadCase> {};

TEST_P(PadTest, ForwardMatchesReference) {
  const PadCase& t = GetParam();
  const std::vector<float> x = randomFloats(t.inSize(), 7);
  std::vector<float> out(t.outSize(), -99.0f);
  pad_rows_forward(full_band(out.data(), t.ON(), t.OC(), t.OH(), t.OW()), full_band(x.data(), t.N, t.C, t.H, t.W), t.p,
                   0, t.OH());
  EXPECT_EQ(normalizedError(out, padReference(t, toDouble(x))), 0.0);
}

TEST_P(PadTest, BackwardMatchesFiniteDifferences) {
  const PadCase& t = GetParam();
  const std::vector<float> x = randomFloats(t.inSize(), 7), dy = randomFloats(t.outSize(), 8);
  std::vector<float> dx(t.inSize(), 0.0f);
  pad_rows_backward(full_band(dx.data(), t.N, t.C, t.H, t.W), full_band(dy.data(), t.ON(), t.OC(), t.OH(), t.OW()), t.p,
                    0, t.OH());
  std::vector<double> xd = toDouble(x);
  const std::vector<double> dyd = toDouble(dy);
  EXPECT_LT(normalizedError(dx, numericGradient(xd, [&] { return dot(dyd, padReference(t, xd)); })), 1e-6);
}

TEST_P(PadTest, RowPiecesMatchWholeMap) {
  const PadCase& t = GetParam();
  const std::vector<float> x = randomFloats(t.inSize(), 7), dy = randomFloats(t.outSize(), 8);
  std::vector<float> wholeOut(t.outSize()), wholeDx(t.inSize());
  pad_rows_forward(full_band(wholeOut.data(), t.ON(), t.OC(), t.OH(), t.OW()), full_band(x.data(), t.N, t.C, t.H, t.W),
                   t.p, 0, t.OH());
  pad_rows_backward(full_band(wholeDx.data(), t.N, t.C, t.H, t.W), full_band(dy.data(), t.ON(), t.OC(), t.OH(), t.OW()),
                    t.p, 0, t.OH());
  for (int64_t pieces : {2, 3}) {
    SCOPED_TRACE("pieces = " + std::to_string(pieces));
    std::vector<float> out(t.outSize(), -99.0f), dx(t.inSize());
    for (const RowRange r : splitRows(t.OH(), pieces)) {
      const RowRange inRows = pad_input_rows(t.p, r.begin, r.end, t.H);
      const OwnedBand in = sliceRows(x, t.N, t.C, t.H, t.W, inRows);
      const OwnedBand dOut = sliceRows(dy, t.ON(), t.OC(), t.OH(), t.OW(), r);
      OwnedBand outPiece(t.ON(), t.OC(), t.OH(), t.OW(), r), dxPiece(t.N, t.C, t.H, t.W, inRows);
      pad_rows_forward(outPiece.band, in.band, t.p, r.begin, r.end);
      copy_rows(full_band(out.data(), t.ON(), t.OC(), t.OH(), t.OW()), outPiece.band, r.begin, r.end);
      pad_rows_backward(dxPiece.band, dOut.band, t.p, r.begin, r.end);
      add_rows(full_band(dx.data(), t.N, t.C, t.H, t.W), dxPiece.band, inRows.begin, inRows.end);
    }
    EXPECT_EQ(normalizedError(out, wholeOut), 0.0);
    EXPECT_EQ(normalizedError(dx, wholeDx), 0.0);
  }
}

TEST_P(PadTest, RejectsInputBandMissingRows) {
  const PadCase& t = GetParam();
  const std::vector<float> x = randomFloats(t.inSize(), 7);
  int64_t oh = 0;
  while (pad_input_rows(t.p, oh, oh + 1, t.H).empty()) ++oh;
  const RowRange needed = pad_input_rows(t.p, oh, oh + 1, t.H);
  const OwnedBand empty = sliceRows(x, t.N, t.C, t.H, t.W, {needed.end, needed.end});
  OwnedBand out(t.ON(), t.OC(), t.OH(), t.OW(), {oh, oh + 1});
  EXPECT_THROW(pad_rows_forward(out.band, empty.band, t.p, oh, oh + 1), std::invalid_argument);
  OwnedBand dx(t.N, t.C, t.H, t.W, {needed.end, needed.end});
  EXPECT_THROW(pad_rows_backward(dx.band, out.band, t.p, oh, oh + 1), std::invalid_argument);
}

PadParams pads(std::initializer_list<int64_t> q, float value) {
  PadParams p;
  std::copy(q.begin(), q.end(), p.pads);
  p.value = value;
  return p;
}

const PadCase kPadCases[] = {
    {"Spatial", 2, 3, 7, 5, pads({0, 0, 2, 1, 0, 0, 1, 3}, 0.0f)},
    {"ValueAndAllAxes", 2, 3, 5, 4, pads({1, 0, 1, 2, 0, 2, 3, 0}, 0.5f)},
    {"Crop", 2, 3, 9, 6, pads({0, 0, -2, -1, 0, 0, -3, 2}, 0.0f)},
    {"CropBatchAndChannels", 3, 4, 6, 5, pads({-1, -1, 1, -2, 0, -1, -1, 1}, -2.0f)},
    {"RowsOfPaddingOnly", 1, 2, 3, 3, pads({0, 0, 3, 0, 0, 0, 2, 0}, 1.0f)},
};

INSTANTIATE_TEST_SUITE_P(Cases, PadTest, ::testing::ValuesIn(kPadCases),
                         [](const ::testing::TestParamInfo<PadCase>& info) { return info.param.name; });

TEST(PadInputRows, ByHand) {
  const PadParams p = pads({0, 0, 2, 0, 0, 0, 1, 0}, 0.0f);  // 2 rows above, 1 below a 5-row map
  EXPECT_TRUE(pad_input_rows(p, 0, 2, 5).empty());           // output rows 0, 1 are padding
  EXPECT_EQ(pad_input_rows(p, 1, 4, 5).begin, 0);
  EXPECT_EQ(pad_input_rows(p, 1, 4, 5).end, 2);
  EXPECT_EQ(pad_input_rows(p, 6, 8, 5).begin, 4);
  EXPECT_EQ(pad_input_rows(p, 6, 8, 5).end, 5);
  const PadParams crop = pads({0, 0, -2, 0, 0, 0, 0, 0}, 0.0f);
  EXPECT_EQ(crop.pads[2], -2);
  EXPECT_EQ(pad_input_rows(crop, 0, 3, 9).begin, 2);
  EXPECT_EQ(pad_input_rows(crop, 0, 3, 9).end, 5);
}

TEST(PadChecks, RejectsOutputOfWrongShape) {
  const PadParams p = pads({0, 0, 1, 1, 0, 0, 1, 1}, 0.0f);
  std::vector<float> x(2 * 2), y(5 * 4);
  EXPECT_THROW(pad_rows_forward(full_band(y.data(), 1, 1, 5, 4), full_band(x.data(), 1, 1, 2, 2), p, 0, 5),
               std::invalid_argument);
  EXPECT_NO_THROW(pad_rows_forward(full_band(y.data(), 1, 1, 4, 4), full_band(x.data(), 1, 1, 2, 2), p, 0, 4));
}

}  // namespace
}  // namespace lrc::cpu

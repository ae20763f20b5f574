// Row bands and window row arithmetic: output sizes (ceil_mode included) by hand, the input
// rows of an output range against brute force, band checks, and row copies between bands.
#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/cpu/RowBand.h"
#include "test/unit/cpu_kernels_test_util.h"

namespace lrc::cpu {
namespace {

using testing::axis;
using testing::OwnedBand;
using testing::randomFloats;
using testing::sliceRows;

TEST(WindowOutputSize, ByHand) {
  EXPECT_EQ(window_output_size(axis(3, 1, 1, 1), 224), 224);
  EXPECT_EQ(window_output_size(axis(7, 2, 3, 3), 224), 112);
  EXPECT_EQ(window_output_size(axis(3, 2, 1, 1), 7), 4);
  EXPECT_EQ(window_output_size(axis(3, 2, 1, 2, 2), 7), 3);  // (7 + 3 - 5) / 2 + 1
  EXPECT_EQ(window_output_size(axis(3, 2), 6), 2);
  EXPECT_EQ(window_output_size(axis(3, 2), 6, true), 3);  // ceil: the last window overhangs
  // ceil would give 4 windows, but the 4th starts at 6 >= 5 + 1 (in the end padding): dropped.
  EXPECT_EQ(window_output_size(axis(2, 2, 1, 1), 5, true), 3);
  EXPECT_EQ(window_output_size(axis(2, 2, 1, 1), 5, false), 3);
  EXPECT_EQ(window_output_size(axis(3, 2, 1, 1), 6, true), 4);
  EXPECT_LE(window_output_size(axis(5), 3), 0);  // kernel larger than the map
}

TEST(WindowInputRows, MatchesBruteForce) {
  for (const WindowAxis a :
       {axis(3, 1, 1, 1), axis(3, 2, 1, 2, 2), axis(1, 2), axis(5, 3, 2, 0), axis(1, 1, 3, 2), axis(2, 2, 0, 1, 3)}) {
    for (int64_t inSize : {1, 4, 7, 10}) {
      const int64_t out = window_output_size(a, inSize);
      for (int64_t lo = 0; lo < out; ++lo)
        for (int64_t hi = lo + 1; hi <= out; ++hi) {
          int64_t first = inSize, last = -1;
          for (int64_t o = lo; o < hi; ++o)
            for (int64_t k = 0; k < a.kernel; ++k) {
              const int64_t i = o * a.stride - a.padBegin + k * a.dilation;
              if (i < 0 || i >= inSize) continue;
              first = std::min(first, i);
              last = std::max(last, i);
            }
          // SPEC section 2: [lo*s - p, (hi-1)*s - p + d*(k-1) + 1) clipped to the map. With
          // dilation the hull may hold a row no tap reads; it must hold every row a tap reads.
          const int64_t begin = std::max<int64_t>(lo * a.stride - a.padBegin, 0);
          const int64_t end =
              std::min<int64_t>((hi - 1) * a.stride - a.padBegin + a.dilation * (a.kernel - 1) + 1, inSize);
          const RowRange r = window_input_rows(a, lo, hi, inSize);
          const std::string where = "kernel " + std::to_string(a.kernel) + " dilation " + std::to_string(a.dilation) +
                                    " rows " + std::to_string(lo) + ".." + std::to_string(hi) + " of " +
                                    std::to_string(inSize);
          if (begin >= end) {
            EXPECT_TRUE(r.empty()) << where;
          } else {
            EXPECT_EQ(r.begin, begin) << where;
            EXPECT_EQ(r.end, end) << where;
          }
          if (last >= 0) {
            EXPECT_LE(r.begin, first) << where;
            EXPECT_GE(r.end, last + 1) << where;
          }
          if (a.dilation == 1 && last >= 0) {  // without dilation the hull is exact
            EXPECT_EQ(r.begin, first) << where;
            EXPECT_EQ(r.end, last + 1) << where;
          }
        }
    }
  }
  EXPECT_TRUE(window_input_rows(axis(3), 2, 2, 10).empty());
}

TEST(RowBandLayout, RowAddressingAndConstConversion) {
  std::vector<float> data(2 * 3 * 2 * 4);
  const RowBand band{data.data(), 2, 3, 9, 4, 5, 2};  // rows [5, 7) of a 9-row map
  EXPECT_EQ(band.row(1, 2, 6) - data.data(), ((1 * 3 + 2) * 2 + 1) * 4);
  const ConstRowBand view = band;
  EXPECT_EQ(view.data, data.data());
  EXPECT_EQ(view.range().begin, 5);
  EXPECT_EQ(view.range().end, 7);
  EXPECT_TRUE(view.holds({5, 7}));
  EXPECT_TRUE(view.holds({3, 3}));  // empty ranges are always held
  EXPECT_FALSE(view.holds({4, 6}));
  EXPECT_FALSE(view.holds({6, 8}));
}

TEST(RowBandChecks, RejectMalformedBandsWithClearMessages) {
  std::vector<float> data(100);
  EXPECT_THROW(check_band("k", "input", ConstRowBand{data.data(), 1, 1, 4, 5, 2, 3}), std::invalid_argument);
  EXPECT_THROW(check_band("k", "input", ConstRowBand{data.data(), 1, 1, 4, 5, -1, 2}), std::invalid_argument);
  EXPECT_THROW(check_band("k", "input", ConstRowBand{nullptr, 1, 1, 4, 5, 0, 2}), std::invalid_argument);
  EXPECT_NO_THROW(check_band("k", "input", ConstRowBand{nullptr, 1, 1, 4, 5, 2, 0}));
  EXPECT_NO_THROW(check_band("k", "input", ConstRowBand{data.data(), 1, 1, 4, 5, 1, 3}));
  try {
    require_rows("conv2d_rows_forward", "input", ConstRowBand{data.data(), 1, 1, 9, 5, 2, 3}, {1, 4},
                 "rows [0, 2) read");
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()),
              "conv2d_rows_forward: input band holds rows [2, 5) but rows [0, 2) read rows [1, 4)");
  }
  EXPECT_THROW(check_window("k", "height", axis(0)), std::invalid_argument);
  EXPECT_THROW(check_window("k", "height", axis(3, 0)), std::invalid_argument);
  EXPECT_THROW(check_window("k", "width", axis(3, 1, -1)), std::invalid_argument);
  EXPECT_NO_THROW(check_window("k", "width", axis(3, 2, 1, 0, 2)));
}

TEST(RowCopies, CopyAndAddRowsBetweenBands) {
  const int64_t N = 2, C = 2, H = 6, W = 3;
  const std::vector<float> full = randomFloats(N * C * H * W, 51);
  const OwnedBand wide = sliceRows(full, N, C, H, W, {1, 5});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t h = 1; h < 5; ++h)
        for (int64_t w = 0; w < W; ++w) ASSERT_EQ(wide.band.row(n, c, h)[w], full[((n * C + c) * H + h) * W + w]);

  OwnedBand narrow(N, C, H, W, {2, 4}, 1.0f);
  add_rows(narrow.band, wide.band, 2, 4);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t h = 2; h < 4; ++h)
        for (int64_t w = 0; w < W; ++w)
          ASSERT_EQ(narrow.band.row(n, c, h)[w], 1.0f + full[((n * C + c) * H + h) * W + w]);

  EXPECT_THROW(copy_rows(narrow.band, wide.band, 1, 3), std::invalid_argument);  // narrow lacks row 1
  EXPECT_THROW(add_rows(narrow.band, wide.band, 3, 7), std::invalid_argument);   // beyond the map
  OwnedBand otherMap(N, C + 1, H, W, {2, 4});
  EXPECT_THROW(copy_rows(otherMap.band, wide.band, 2, 4), std::invalid_argument);
}

}  // namespace
}  // namespace lrc::cpu

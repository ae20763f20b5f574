// The oneDNN convolutions (runtime/cpu/DnnlConv.h) against the im2col + BLAS reference
// (runtime/cpu/Conv.h, itself checked against float64 loops and central differences in
// cpu_kernels_conv_test.cpp): whole maps, bands of only the rows needed, row ranges of
// whole-map bands (strided views), the accumulating weight gradient, the workspace bound, and
// one primitive per shape.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <ostream>
#include <string>
#include <vector>

#include "ops/Scratch.h"
#include "runtime/cpu/Conv.h"
#include "runtime/cpu/DnnlConv.h"
#include "runtime/cpu/Parallel.h"
#include "test/unit/cpu_kernels_test_util.h"

// OpenMP's, which oneDNN's convolutions run on (weak: present when libdnnl loaded libgomp).
extern "C" int omp_get_max_threads() __attribute__((weak));

namespace lrc::cpu {
namespace {

using testing::axis;
using testing::normalizedError;
using testing::OwnedBand;
using testing::randomFloats;
using testing::sliceRows;
using testing::splitRows;

struct Case {
  std::string name;
  int64_t N, C, H, W, K;
  Conv2dParams p;
  bool bias;
  int64_t OH() const { return window_output_size(p.h, H); }
  int64_t OW() const { return window_output_size(p.w, W); }
  int64_t inSize() const { return N * C * H * W; }
  int64_t outSize() const { return N * K * OH() * OW(); }
  int64_t weightSize() const { return K * (C / p.group) * p.h.kernel * p.w.kernel; }
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

// Runs `f` with the convolution path set to `path`, restoring the previous one.
template <class F>
void withPath(ConvPath path, F f) {
  const ConvPath before = conv_path();
  set_conv_path(path);
  f();
  set_conv_path(before);
}

// A workspace large enough for any scratchpad oneDNN asks of these small shapes.
constexpr int64_t kBigWorkspace = int64_t{1} << 22;

struct Data {
  const Case& t;
  std::vector<float> x, w, b, dOut;
  explicit Data(const Case& tc)
      : t(tc),
        x(randomFloats(tc.inSize(), 11)),
        w(randomFloats(tc.weightSize(), 12)),
        b(tc.bias ? randomFloats(tc.K, 13) : std::vector<float>{}),
        dOut(randomFloats(tc.outSize(), 14)) {}
  const float* bias() const { return t.bias ? b.data() : nullptr; }
};

// The three products over pieces of output rows (pieces = 1: the whole map), each piece on
// bands of only the rows it needs, by the reference (the im2col path) or by oneDNN on the plain
// or the blocked layouts with a workspace of `wsFloats`; `ran` counts the calls that ran.
struct Result {
  std::vector<float> out, dx, dw;
};
enum class Mode { kReference, kPlain, kBlocked };
Result byPieces(const Data& d, int64_t pieces, Mode mode, int64_t& ran, int64_t wsFloats = kBigWorkspace) {
  const Case& t = d.t;
  const int64_t OH = t.OH(), OW = t.OW();
  Result r{std::vector<float>(t.outSize(), -99.0f), std::vector<float>(t.inSize()), std::vector<float>(t.weightSize())};
  std::vector<float> ws(kBigWorkspace);
  for (const RowRange rows : splitRows(OH, pieces)) {
    const RowRange inRows = window_input_rows(t.p.h, rows.begin, rows.end, t.H);
    const OwnedBand in = sliceRows(d.x, t.N, t.C, t.H, t.W, inRows);
    const OwnedBand dOut = sliceRows(d.dOut, t.N, t.K, OH, OW, rows);
    OwnedBand outPiece(t.N, t.K, OH, OW, rows, -7.0f), dxPiece(t.N, t.C, t.H, t.W, inRows);
    // The first piece overwrites dw, the others add (the accumulating form).
    const bool accumulate = rows.begin != 0;
    // A declined call runs the reference, as the public kernels do.
    const auto reference = [&](int which) {
      withPath(ConvPath::kIm2col, [&] {
        if (which == 0)
          conv2d_rows_forward(outPiece.band, in.band, d.w.data(), d.bias(), t.p, rows.begin, rows.end, ws.data());
        if (which == 1)
          conv2d_rows_backward_data(dxPiece.band, dOut.band, d.w.data(), t.p, rows.begin, rows.end, ws.data());
        if (which == 2) {
          if (!accumulate) std::fill(r.dw.begin(), r.dw.end(), 0.0f);
          conv2d_rows_backward_filter(r.dw.data(), nullptr, dOut.band, in.band, t.p, rows.begin, rows.end,
                                      ws.data());
        }
      });
    };
    bool took[3] = {false, false, false};
    if (mode == Mode::kPlain) {
      took[0] = dnnl_conv::forward(outPiece.band, in.band, d.w.data(), d.bias(), t.p, rows.begin, rows.end, ws.data(),
                                   wsFloats);
      took[1] = dnnl_conv::backward_data_zeroed(dxPiece.band, dOut.band, d.w.data(), t.p, rows.begin, rows.end,
                                                ws.data(), wsFloats);
      took[2] = dnnl_conv::backward_weights(r.dw.data(), dOut.band, in.band, t.p, rows.begin, rows.end, accumulate,
                                            ws.data(), wsFloats);
    } else if (mode == Mode::kBlocked) {
      took[0] = dnnl_conv::blocked_forward(outPiece.band, in.band, d.w.data(), d.bias(), t.p, rows.begin, rows.end,
                                           ws.data(), wsFloats);
      took[1] = dnnl_conv::blocked_backward_data_zeroed(dxPiece.band, dOut.band, d.w.data(), t.p, rows.begin,
                                                        rows.end, ws.data(), wsFloats);
      took[2] = dnnl_conv::blocked_backward_weights(r.dw.data(), dOut.band, in.band, t.p, rows.begin, rows.end,
                                                    accumulate, ws.data(), wsFloats);
    }
    for (int which = 0; which < 3; ++which) {
      if (mode == Mode::kReference || !took[which]) reference(which);
      ran += mode == Mode::kReference || took[which];
    }
    copy_rows(full_band(r.out.data(), t.N, t.K, OH, OW), outPiece.band, rows.begin, rows.end);
    add_rows(full_band(r.dx.data(), t.N, t.C, t.H, t.W), dxPiece.band, inRows.begin, inRows.end);
  }
  return r;
}

class DnnlConvTest : public ::testing::TestWithParam<Case> {};

void expectNear(const Result& got, const Result& want) {
  EXPECT_LT(normalizedError(got.out, want.out), 1e-5) << "forward";
  EXPECT_LT(normalizedError(got.dx, want.dx), 1e-5) << "input gradient";
  EXPECT_LT(normalizedError(got.dw, want.dw), 1e-5) << "weight gradient";
}

TEST_P(DnnlConvTest, BandsMatchReference) {
  if (!dnnl_conv::available()) GTEST_SKIP() << "built without oneDNN";
  const Case& t = GetParam();
  const Data d(t);
  for (Mode mode : {Mode::kPlain, Mode::kBlocked})
    for (int64_t pieces : {1, 2, 3}) {
      SCOPED_TRACE(std::string(mode == Mode::kPlain ? "plain" : "blocked") + ", pieces = " + std::to_string(pieces));
      int64_t ranRef = 0, ran = 0;
      const Result want = byPieces(d, pieces, Mode::kReference, ranRef);
      const Result got = byPieces(d, pieces, mode, ran);
      // The blocked input gradient declines fewer than 16 channels (slower than im2col there).
      const int64_t declined = mode == Mode::kBlocked && t.C < 16 ? pieces : 0;
      // oneDNN's GEMM convolution (plain) takes only dense views: Stride2Wide's last input
      // column is never read, so its view is cropped and the reference runs.
      if (mode == Mode::kBlocked || t.name != "Stride2Wide") {
        EXPECT_EQ(ran, 3 * pieces - declined) << "oneDNN declined a call";
      }
      expectNear(got, want);
    }
}

// Blocked with less workspace than the band's two blocked maps: the calls run in chunks of
// fewer images and rows (halo rows of the input gradient and the weight gradient's chunks add
// up), or are declined when not even one row fits; whatever runs matches the reference.
TEST_P(DnnlConvTest, BlockedChunksMatchReference) {
  if (!dnnl_conv::available()) GTEST_SKIP() << "built without oneDNN";
  const Case& t = GetParam();
  const Data d(t);
  int64_t ranRef = 0, taken = 0;
  bool split = false;
  const Result want = byPieces(d, 2, Mode::kReference, ranRef);
  for (int64_t ws = int64_t{1} << 16; ws >= 64; ws = ws * 2 / 3) {
    int64_t ran = 0;
    const int64_t chunksBefore = dnnl_conv::blocked_chunks_run();
    const Result got = byPieces(d, 2, Mode::kBlocked, ran, ws);
    if (ran < (t.C < 16 ? 4 : 6)) continue;  // declined: the reference ran them
    SCOPED_TRACE("workspace floats = " + std::to_string(ws));
    expectNear(got, want);
    ++taken;
    split = split || dnnl_conv::blocked_chunks_run() - chunksBefore > 6;
  }
  EXPECT_GT(taken, 0);
  if (t.N > 1) {
    EXPECT_TRUE(split) << "no call ran in chunks";  // at least one image per chunk fits somewhere
  }
}

// Row ranges of whole-map bands through the public kernels with the oneDNN path: the views'
// row strides exceed their rows. Whatever oneDNN declines runs the reference, so the sums
// must match either way.
TEST_P(DnnlConvTest, WholeMapRowRangesMatchReference) {
  if (!dnnl_conv::available()) GTEST_SKIP() << "built without oneDNN";
  for (ConvPath path : {ConvPath::kDnnl, ConvPath::kDnnlPlain}) {
  SCOPED_TRACE(path == ConvPath::kDnnl ? "blocked" : "plain");
  const Case& t = GetParam();
  const Data d(t);
  const int64_t OH = t.OH(), OW = t.OW();
  Result got{std::vector<float>(t.outSize(), -99.0f), std::vector<float>(t.inSize()), std::vector<float>(t.weightSize())};
  Result want = got;
  std::vector<float> ws(kBigWorkspace);
  const ConstRowBand xBand = full_band(d.x.data(), t.N, t.C, t.H, t.W);
  const ConstRowBand dOutBand = full_band(d.dOut.data(), t.N, t.K, OH, OW);
  for (const RowRange r : splitRows(OH, 3)) {
    withPath(ConvPath::kIm2col, [&] {
      conv2d_rows_forward(full_band(want.out.data(), t.N, t.K, OH, OW), xBand, d.w.data(), d.bias(), t.p, r.begin,
                          r.end, ws.data());
      conv2d_rows_backward_filter(want.dw.data(), nullptr, dOutBand, xBand, t.p, r.begin, r.end, ws.data());
    });
    withPath(path, [&] {
      conv2d_rows_forward(full_band(got.out.data(), t.N, t.K, OH, OW), xBand, d.w.data(), d.bias(), t.p, r.begin,
                          r.end, ws.data(), kBigWorkspace);
      conv2d_rows_backward_filter(got.dw.data(), nullptr, dOutBand, xBand, t.p, r.begin, r.end, ws.data(),
                                  /*dWeightZeroed=*/false, kBigWorkspace);
    });
    // The input gradient of one range into a zeroed map, then added: the zeroed form.
    std::vector<float> dxWant(t.inSize()), dxGot(t.inSize());
    withPath(ConvPath::kIm2col, [&] {
      conv2d_rows_backward_data(full_band(dxWant.data(), t.N, t.C, t.H, t.W), dOutBand, d.w.data(), t.p, r.begin,
                                r.end, ws.data());
    });
    withPath(path, [&] {
      conv2d_rows_backward_data(full_band(dxGot.data(), t.N, t.C, t.H, t.W), dOutBand, d.w.data(), t.p, r.begin,
                                r.end, ws.data(), /*dInZeroed=*/true, kBigWorkspace);
    });
    for (int64_t i = 0; i < t.inSize(); ++i) {
      want.dx[i] += dxWant[i];
      got.dx[i] += dxGot[i];
    }
  }
  EXPECT_LT(normalizedError(got.out, want.out), 1e-5) << "forward";
  EXPECT_LT(normalizedError(got.dx, want.dx), 1e-5) << "input gradient";
  EXPECT_LT(normalizedError(got.dw, want.dw), 1e-5) << "weight gradient";
  }
}

// A call whose scratchpad or accumulation buffer does not fit in the workspace is declined
// (the caller runs the reference) and writes nothing.
TEST_P(DnnlConvTest, DeclinesWhenTheWorkspaceIsShort) {
  if (!dnnl_conv::available()) GTEST_SKIP() << "built without oneDNN";
  const Case& t = GetParam();
  const Data d(t);
  const ConstRowBand xBand = full_band(d.x.data(), t.N, t.C, t.H, t.W);
  const ConstRowBand dOutBand = full_band(d.dOut.data(), t.N, t.K, t.OH(), t.OW());
  std::vector<float> dw(t.weightSize(), 5.0f), ws(t.weightSize());
  EXPECT_FALSE(dnnl_conv::backward_weights(dw.data(), dOutBand, xBand, t.p, 0, t.OH(), true, ws.data(),
                                           t.weightSize() - 1));
  EXPECT_FALSE(dnnl_conv::blocked_backward_weights(dw.data(), dOutBand, xBand, t.p, 0, t.OH(), true, ws.data(),
                                                   t.weightSize() - 1));
  for (float v : dw) ASSERT_EQ(v, 5.0f);
}

TEST_P(DnnlConvTest, OnePrimitivePerShape) {
  if (!dnnl_conv::available()) GTEST_SKIP() << "built without oneDNN";
  const Case& t = GetParam();
  const Data d(t);
  int64_t ran = 0;
  byPieces(d, 2, Mode::kPlain, ran);
  byPieces(d, 2, Mode::kBlocked, ran);
  const int64_t after = dnnl_conv::cached_primitives();
  byPieces(d, 2, Mode::kPlain, ran);
  byPieces(d, 2, Mode::kBlocked, ran);
  EXPECT_EQ(dnnl_conv::cached_primitives(), after);
}

// oneDNN threads by OpenMP: lrc-run --threads (set_threads) must set OpenMP's count too, not
// only the element-wise pool's and BLAS's. 3 is more than this test's machines' default.
TEST(DnnlConvThreads, FollowSetThreads) {
  if (!dnnl_conv::available()) GTEST_SKIP() << "built without oneDNN";
  ASSERT_NE(omp_get_max_threads, nullptr) << "oneDNN is linked but OpenMP is not loaded";
  const int before = threads();
  for (int n : {1, 2, 3, 1}) {
    set_threads(n);
    EXPECT_EQ(omp_get_max_threads(), n) << "set_threads(" << n << ")";
  }
  set_threads(before);
}

// Under LRC_CPU_CONV=dnnl a 1x1 stride-1 unpadded convolution over a map of 28x28 output
// pixels or more runs its forward and input gradient on oneDNN's plain (GEMM) convolution with
// no workspace (a plan gives a direct convolution none): two primitives; a smaller map, and
// every weight gradient, stay on im2col: none. Each matches the reference.
TEST(DnnlConvDirect, PlainWhereItPays) {
  if (!dnnl_conv::available()) GTEST_SKIP() << "built without oneDNN";
  for (const int64_t H : {28, 14}) {  // x 30 columns: 840 pixels, 420
    SCOPED_TRACE("H = " + std::to_string(H));
    const int64_t N = 2, C = 16, K = 24, W = 30;
    const Conv2dParams p{axis(1), axis(1), 1};
    const std::vector<float> x = randomFloats(N * C * H * W, 21), w = randomFloats(K * C, 22),
                             b = randomFloats(K, 23), dOut = randomFloats(N * K * H * W, 24);
    Result want{std::vector<float>(N * K * H * W), std::vector<float>(N * C * H * W), std::vector<float>(K * C)};
    Result got = want;
    const ConstRowBand xBand = full_band(x.data(), N, C, H, W), dOutBand = full_band(dOut.data(), N, K, H, W);
    const auto all = [&](Result& r) {
      conv2d_rows_forward(full_band(r.out.data(), N, K, H, W), xBand, w.data(), b.data(), p, 0, H, nullptr, 0);
      conv2d_rows_backward_data(full_band(r.dx.data(), N, C, H, W), dOutBand, w.data(), p, 0, H, nullptr,
                                /*dInZeroed=*/true, 0);
    };
    withPath(ConvPath::kIm2col, [&] {
      all(want);
      conv2d_rows_backward_filter(want.dw.data(), nullptr, dOutBand, xBand, p, 0, H, nullptr, true, 0);
    });
    int64_t fwdAndData = 0, weights = 0;
    withPath(ConvPath::kDnnl, [&] {
      const int64_t before = dnnl_conv::cached_primitives();
      all(got);
      fwdAndData = dnnl_conv::cached_primitives() - before;
      conv2d_rows_backward_filter(got.dw.data(), nullptr, dOutBand, xBand, p, 0, H, nullptr, true, 0);
      weights = dnnl_conv::cached_primitives() - before - fwdAndData;
    });
    EXPECT_EQ(fwdAndData, H * W >= 28 * 28 ? 2 : 0) << "oneDNN primitives for the forward and input gradient";
    EXPECT_EQ(weights, 0) << "the weight gradient ran on oneDNN";
    expectNear(got, want);
  }
}

// conv-scratch=winograd: a convolution the plan marks winograd (Conv2dParams::winograd) runs
// oneDNN's Winograd F(4x4, 3x3) kernels through the public kernels (LRC_CPU_CONV=dnnl) on
// bands of only the rows each piece needs (so the views have asymmetric pads: the band's first
// and last rows are padding only at the map's edges), with the workspace plan-memory gives it
// (im2col + blocked weights + ops::convWinogradFloats). Each of the three products must run
// on Winograd (winograd_chunks_run grows at each call) and match the im2col reference within
// 2e-5 of the largest value (Winograd rounds differently: F(4x4, 3x3)'s transforms multiply
// by up to 8 and divide by 24; at these 16..32 channels the error measures about 1e-6). Without
// the attribute nothing runs on Winograd; with only dnnl's scratch the calls run oneDNN's
// direct kernels (no Winograd chunk) and match within 1e-5.
struct WinogradCase {
  std::string name;
  int64_t N, C, H, W, K;
  WindowAxis h, w;
  bool rowChunks;  // the band's rows do not fit one chunk (ops::convWinogradChunk): some call runs in several
};
void PrintTo(const WinogradCase& c, std::ostream* os) { *os << c.name; }

class WinogradConvTest : public ::testing::TestWithParam<WinogradCase> {};

// The three products of `pieces` row pieces on bands; `winogradCalls` counts the calls during
// which winograd_chunks_run grew (at most 3 per piece).
Result winogradByPieces(const Case& t, const Data& d, int64_t pieces, ConvPath path, bool wantWinograd,
                        int64_t& winogradCalls, int64_t* mostChunks = nullptr) {
  const int64_t OH = t.OH(), OW = t.OW();
  Result r{std::vector<float>(t.outSize(), -99.0f), std::vector<float>(t.inSize()), std::vector<float>(t.weightSize())};
  for (const RowRange rows : splitRows(OH, pieces)) {
    const RowRange inRows = window_input_rows(t.p.h, rows.begin, rows.end, t.H);
    const OwnedBand in = sliceRows(d.x, t.N, t.C, t.H, t.W, inRows);
    const OwnedBand dOut = sliceRows(d.dOut, t.N, t.K, OH, OW, rows);
    OwnedBand outPiece(t.N, t.K, OH, OW, rows, -7.0f), dxPiece(t.N, t.C, t.H, t.W, inRows);
    // The plan's scratch for this band (passes/PlanMemory.cpp): im2col, blocked weights, and
    // for a winograd convolution ops::convWinogradFloats (the weight gradient's is larger).
    const int64_t im2col = conv2d_workspace_floats(t.p, t.C, OW, rows.size());
    const int64_t dnnl = im2col + ops::convBlockedWeightsFloats(t.p.h, t.p.w, 1, t.K, t.C).value().value();
    const auto wino = [&](bool weightGradient) {
      return dnnl + (wantWinograd ? ops::convWinogradFloats(t.K, t.C, OW, rows.size(), t.N, weightGradient).value().value()
                                  : 0);
    };
    // At 64 bytes, as the plan's arena places scratch (oneDNN's Winograd kernels need it).
    std::vector<float> wsOwned(wino(true) + 16);
    float* ws = wsOwned.data();
    while (reinterpret_cast<uintptr_t>(ws) % 64 != 0) ++ws;
    const bool accumulate = rows.begin != 0;
    if (!accumulate) std::fill(r.dw.begin(), r.dw.end(), 0.0f);
    withPath(path, [&] {
      int64_t before = dnnl_conv::winograd_chunks_run();
      const auto count = [&] {
        const int64_t now = dnnl_conv::winograd_chunks_run();
        winogradCalls += now > before;
        if (mostChunks != nullptr) *mostChunks = std::max(*mostChunks, now - before);
        before = now;
      };
      conv2d_rows_forward(outPiece.band, in.band, d.w.data(), d.bias(), t.p, rows.begin, rows.end, ws,
                          wino(false));
      count();
      conv2d_rows_backward_data(dxPiece.band, dOut.band, d.w.data(), t.p, rows.begin, rows.end, ws,
                                /*dInZeroed=*/true, wino(false));
      count();
      conv2d_rows_backward_filter(r.dw.data(), nullptr, dOut.band, in.band, t.p, rows.begin, rows.end, ws,
                                  /*dWeightZeroed=*/!accumulate, wino(true));
      count();
    });
    copy_rows(full_band(r.out.data(), t.N, t.K, OH, OW), outPiece.band, rows.begin, rows.end);
    add_rows(full_band(r.dx.data(), t.N, t.C, t.H, t.W), dxPiece.band, inRows.begin, inRows.end);
  }
  return r;
}

TEST_P(WinogradConvTest, RunsWinogradOnBandsAndMatchesReference) {
  if (!dnnl_conv::available()) GTEST_SKIP() << "built without oneDNN";
  const WinogradCase& c = GetParam();
  Case t{c.name, c.N, c.C, c.H, c.W, c.K, {c.h, c.w, 1}, true};
  ASSERT_TRUE(ops::convWinogradEligible(c.h, c.w, 1, c.K, c.C));
  // One thread, the count plan-memory sizes Winograd's scratch for (ops/Scratch.h: with more,
  // oneDNN's weight gradient keeps more transformed weights and may not fit, then runs direct).
  const int threadsBefore = threads();
  set_threads(1);
  const Data d(t);
  for (int64_t pieces : {1, 2, 3}) {
    SCOPED_TRACE("pieces = " + std::to_string(pieces));
    int64_t none = 0;
    const Result want = winogradByPieces(t, d, pieces, ConvPath::kIm2col, false, none);
    t.p.winograd = true;
    int64_t calls = 0, mostChunks = 0;
    const Result got = winogradByPieces(t, d, pieces, ConvPath::kDnnl, true, calls, &mostChunks);
    EXPECT_EQ(calls, 3 * pieces) << "a call did not run on Winograd";
    if (c.rowChunks && pieces == 1) {
      EXPECT_GT(mostChunks, 1) << "no call ran in chunks of rows";
    }
    std::printf("%s pieces %lld: forward %.2e input gradient %.2e weight gradient %.2e\n", c.name.c_str(),
                static_cast<long long>(pieces), normalizedError(got.out, want.out), normalizedError(got.dx, want.dx),
                normalizedError(got.dw, want.dw));
    EXPECT_LT(normalizedError(got.out, want.out), 2e-5) << "forward";
    EXPECT_LT(normalizedError(got.dx, want.dx), 2e-5) << "input gradient";
    EXPECT_LT(normalizedError(got.dw, want.dw), 2e-5) << "weight gradient";
    // Only dnnl's scratch: oneDNN's direct kernels run it, no Winograd chunk (RowChunks'
    // im2col scratch, 16 MiB, holds a Winograd chunk: Winograd may run there).
    calls = 0;
    const Result direct = winogradByPieces(t, d, pieces, ConvPath::kDnnl, false, calls);
    if (!c.rowChunks) {
      EXPECT_EQ(calls, 0) << "Winograd ran in a scratch sized without it";
    }
    expectNear(direct, want);
    // Not marked: no Winograd even with its scratch.
    calls = 0;
    t.p.winograd = false;
    const Result plain = winogradByPieces(t, d, pieces, ConvPath::kDnnl, true, calls);
    EXPECT_EQ(calls, 0) << "Winograd ran without the plan's attribute";
    expectNear(plain, want);
  }
  set_threads(threadsBefore);
}

const WinogradCase kWinogradCases[] = {
    {"Same16to32", 2, 16, 13, 11, 32, axis(3, 1, 1, 1), axis(3, 1, 1, 1), false},
    {"Valid32to16", 1, 32, 10, 9, 16, axis(3, 1, 0, 0), axis(3, 1, 0, 0), false},
    {"AsymmetricPads", 3, 16, 9, 14, 16, axis(3, 1, 1, 0), axis(3, 1, 0, 1), false},
    {"RowChunks", 1, 16, 200, 256, 16, axis(3, 1, 1, 1), axis(3, 1, 1, 1), true},  // 156 rows a chunk
};

INSTANTIATE_TEST_SUITE_P(Cases, WinogradConvTest, ::testing::ValuesIn(kWinogradCases),
                         [](const ::testing::TestParamInfo<WinogradCase>& info) { return info.param.name; });

const Case kCases[] = {
    {"Same3x3", 2, 3, 9, 6, 5, {axis(3, 1, 1, 1), axis(3, 1, 1, 1), 1}, true},
    {"Same3x3Wide", 2, 16, 12, 10, 32, {axis(3, 1, 1, 1), axis(3, 1, 1, 1), 1}, true},
    {"Stride2Wide", 3, 32, 11, 9, 16, {axis(3, 2, 1, 1), axis(3, 2, 1, 0), 1}, false},
    {"DepthwiseWide", 2, 32, 10, 8, 32, {axis(3, 1, 1, 1), axis(3, 1, 1, 1), 32}, true},
    {"Stride2Pad3x3", 1, 2, 8, 7, 3, {axis(3, 2, 1, 0), axis(3, 2, 0, 1), 1}, false},
    {"Dilated", 2, 3, 7, 5, 4, {axis(3, 2, 1, 2, 2), axis(2, 1, 0, 1, 2), 1}, true},
    {"Pointwise", 2, 5, 7, 3, 4, {axis(1), axis(1), 1}, true},
    {"PointwiseStride2", 2, 3, 7, 5, 4, {axis(1, 2), axis(1, 2), 1}, true},
    {"Stem7x7Stride2", 2, 3, 15, 13, 8, {axis(7, 2, 3, 3), axis(7, 2, 3, 3), 1}, false},
    {"Wide5x5Stride3", 2, 2, 11, 9, 2, {axis(5, 3, 2, 2), axis(5, 3, 2, 2), 1}, true},
    {"Groups2", 2, 4, 9, 5, 6, {axis(3, 1, 1, 1), axis(3, 1, 1, 1), 2}, false},
    {"Depthwise", 2, 4, 9, 7, 4, {axis(3, 2, 1, 0), axis(3, 2, 1, 1), 4}, true},
};

INSTANTIATE_TEST_SUITE_P(Cases, DnnlConvTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

}  // namespace
}  // namespace lrc::cpu

// Row-band execution (docs/plan-format.md, "Row bands"): plan steps whose buffers are bands
// of rows of a map, run by the CPU backend. Each test builds one-step plans by hand
// (hand_plan.h), runs a kernel once on whole maps and then strip by strip on bands with
// ragged row ranges (operand bands holding more rows than needed, starting earlier), and
// checks that the strips give the whole-map result: forward rows exactly (convolutions up to
// float reordering), backward contributions of `rows` ranges summed over strips. Every plan
// is validated first, so the loader accepts what the kernels run; the loader's rejections of
// bad band geometry are tested here too, and the emission of band values by
// compiler::emitPlan.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "compiler/EmitPlan.h"
#include "cpu_kernels_test_util.h"
#include "hand_plan.h"
#include "ir/Parser.h"
#include "ir/Verifier.h"
#include "passes/Pass.h"
#include "runtime/Executor.h"
#include "runtime/PlanLoader.h"
#include "runtime/cpu/CpuBackend.h"
#include "runtime/cpu/RowBand.h"
#include "runtime/kernels/Dropout.h"

namespace lrc::runtime::testing {
namespace {

using cpu::testing::normalizedError;
using cpu::testing::randomFloats;

// map rows += a band's values (rows r).
void addRows(std::vector<float>& map, const Shape& s, RowRange r, const std::vector<float>& values) {
  const kernels::ConstRowBand src{values.data(), s[0], s[1], s[2], s[3], r.begin, r.size()};
  cpu::add_rows(kernels::full_band(map.data(), s[0], s[1], s[2], s[3]), src, r.begin, r.end);
}

// ---- forward kernels: each strip computes exactly its rows of the whole-map result ----

// Runs a forward kernel whose map operand 0 is cut into bands, result rows strip by strip
// (`need` gives the operand rows a result range reads), against the whole-map run. `others`
// are whole operands (weights). Convolutions reorder no sums across rows, but BLAS may block
// them differently for a different number of columns: `tolerance` allows for that.
void expectStripsMatch(const std::string& kernel, const Shape& x, const std::vector<float>& xValues,
                       const std::vector<Arg>& others, const Shape& y, const IntAttrs& ints, const FloatAttrs& floats,
                       const std::function<RowRange(RowRange)>& need, double tolerance = 0) {
  CpuBackend cpu;
  std::vector<Arg> inputs = {whole(x, xValues)};
  inputs.insert(inputs.end(), others.begin(), others.end());
  const std::vector<float> full = runStep(cpu, kernel, inputs, {result(y)}, ints, floats)[0];
  for (RowRange r : raggedStrips(y[2])) {
    inputs[0] = band(x, xValues, widened(need(r), 1, x[2]));
    const std::vector<float> strip = runStep(cpu, kernel, inputs, {result(y, r)}, ints, floats)[0];
    const std::vector<float> want = cutRows(full, y, r);
    if (tolerance == 0)
      EXPECT_EQ(strip, want) << kernel << " rows [" << r.begin << ", " << r.end << ")";
    else
      EXPECT_LE(normalizedError(strip, want), tolerance) << kernel << " rows [" << r.begin << ", " << r.end << ")";
  }
}

TEST(BandExec, Conv2dStripsEqualTheWholeMap) {
  struct Case {
    IntAttrs attrs;
    Shape y;
  };
  const Shape x = {2, 4, 11, 7}, w = {6, 2, 3, 3};
  const std::vector<float> xv = randomFloats(elementsOf(x), 1), wv = randomFloats(elementsOf(w), 2),
                           bv = randomFloats(6, 3);
  const Case cases[] = {
      {convAttrs({1, 1}, {1, 1, 1, 1}, {1, 1}, 2), {2, 6, 11, 7}},
      {convAttrs({2, 1}, {2, 0, 0, 1}, {1, 1}, 2), {2, 6, 6, 6}},   // stride 2, asymmetric pads
      {convAttrs({1, 2}, {1, 1, 2, 1}, {2, 1}, 2), {2, 6, 10, 4}},  // dilation 2
  };
  for (const Case& c : cases)
    expectStripsMatch(
        "conv2d", x, xv, {whole(w, wv), whole({6}, bv)}, c.y, c.attrs, {},
        [&](RowRange r) { return kernels::window_input_rows(windowAxis(c.attrs, 0, 3), r.begin, r.end, x[2]); }, 1e-6);
}

TEST(BandExec, PoolStripsEqualTheWholeMap) {
  const Shape x = {2, 3, 10, 9};
  const std::vector<float> xv = randomFloats(elementsOf(x), 4);
  const IntAttrs maxAttrs = {
      {"kernel", {3, 2}}, {"stride", {2, 2}}, {"pad", {1, 0, 1, 0}}, {"dilation", {1, 1}}, {"ceil_mode", {1}}};
  const kernels::WindowAxis maxAxis{3, 2, 1, 1, 1};
  expectStripsMatch("maxpool", x, xv, {}, {2, 3, 6, 5}, maxAttrs, {},
                    [&](RowRange r) { return kernels::window_input_rows(maxAxis, r.begin, r.end, x[2]); });
  const IntAttrs avgAttrs = {
      {"kernel", {3, 3}}, {"stride", {1, 2}}, {"pad", {1, 1, 2, 1}}, {"ceil_mode", {0}}, {"count_include_pad", {1}}};
  const kernels::WindowAxis avgAxis{3, 1, 1, 2, 1};
  expectStripsMatch("avgpool", x, xv, {}, {2, 3, 11, 5}, avgAttrs, {},
                    [&](RowRange r) { return kernels::window_input_rows(avgAxis, r.begin, r.end, x[2]); });
}

TEST(BandExec, PadAndCropStripsEqualTheWholeMap) {
  const Shape x = {1, 2, 8, 5};
  const std::vector<float> xv = randomFloats(elementsOf(x), 5);
  const FloatAttrs value = {{"value", 0.5}};
  // Two rows on top, one at the bottom: output row h reads input row h - 2.
  expectStripsMatch("pad", x, xv, {}, {1, 2, 11, 6}, {{"pads", {0, 0, 2, 1, 0, 0, 1, 0}}}, value, [&](RowRange r) {
    return kernels::pad_input_rows({{0, 0, 2, 1, 0, 0, 1, 0}, 0.5f}, r.begin, r.end, x[2]);
  });
  // Negative pads crop (the backward of a pad): output row h reads input row h + 3.
  expectStripsMatch("pad", x, xv, {}, {1, 2, 4, 5}, {{"pads", {0, 0, -3, 0, 0, 0, -1, 0}}}, value, [&](RowRange r) {
    return kernels::pad_input_rows({{0, 0, -3, 0, 0, 0, -1, 0}, 0.0f}, r.begin, r.end, x[2]);
  });
}

// Element-wise kernels index operands by global row: operand bands holding other row ranges
// than the result (here each a different superset) must still give the whole-map rows.
TEST(BandExec, ElementwiseStripsEqualTheWholeMap) {
  CpuBackend cpu;
  const Shape x = {2, 3, 9, 4};
  const std::vector<float> xv = randomFloats(elementsOf(x), 6), x1 = randomFloats(elementsOf(x), 7);
  const auto same = [](RowRange r) { return r; };
  expectStripsMatch("relu", x, xv, {}, x, {}, {}, same);
  expectStripsMatch("identity", x, xv, {}, x, {}, {}, same);
  const std::vector<float> scale = randomFloats(3, 8), bias = randomFloats(3, 9), mean = randomFloats(3, 10),
                           var = randomFloats(3, 11, 0.5f, 2.0f);
  expectStripsMatch("batchnorm", x, xv, {whole({3}, scale), whole({3}, bias), whole({3}, mean), whole({3}, var)}, x,
                    {{"training", {0}}}, {{"epsilon", 1e-5}, {"momentum", 0.9}}, same);
  for (int64_t training : {1, 0})
    expectStripsMatch("dropout", x, xv, {}, x, {{"training", {training}}, {"seed", {42}}}, {{"ratio", 0.3}}, same);

  // add: the second operand a band of its own rows (one more below), the whole map, or a band
  // starting two rows earlier.
  const std::vector<float> full = runStep(cpu, "add", {whole(x, xv), whole(x, x1)}, {result(x)})[0];
  for (RowRange r : raggedStrips(x[2])) {
    const std::vector<float> want = cutRows(full, x, r);
    for (RowRange second : {widened(r, 1, x[2]), RowRange{0, x[2]}, RowRange{std::max<int64_t>(r.begin - 2, 0), r.end}})
      EXPECT_EQ(runStep(cpu, "add", {band(x, xv, r), band(x, x1, second)}, {result(x, r)})[0], want);
  }
}

// A strip's dropout mask is the whole map's: element (n, c, h, w) of the map, H the full
// height, whatever band holds it. Checked against the mask computed directly.
TEST(BandExec, DropoutStripMaskIsTheWholeMapMask) {
  CpuBackend cpu;
  const Shape x = {2, 2, 7, 3};
  const std::vector<float> ones(elementsOf(x), 1.0f);
  RunContext context;
  context.step = 5;
  context.seed = 3;
  const uint64_t seed = 42 ^ kernels::dropout_mix(3);
  const uint64_t threshold = kernels::dropout_keep_threshold(0.5f);
  int dropped = 0;
  for (RowRange r : raggedStrips(x[2])) {
    const std::vector<float> y = runStep(cpu, "dropout", {band(x, ones, widened(r, 1, x[2]))}, {result(x, r)},
                                         {{"training", {1}}, {"seed", {42}}}, {{"ratio", 0.5}}, context)[0];
    size_t i = 0;
    for (int64_t n = 0; n < x[0]; ++n)
      for (int64_t c = 0; c < x[1]; ++c)
        for (int64_t h = r.begin; h < r.end; ++h)
          for (int64_t w = 0; w < x[3]; ++w, ++i) {
            const auto index = static_cast<uint64_t>(((n * x[1] + c) * x[2] + h) * x[3] + w);
            const bool keep = kernels::dropout_hash(seed, context.step, index) < threshold;
            EXPECT_EQ(y[i], keep ? 2.0f : 0.0f) << "element " << index;
            dropped += !keep;
          }
  }
  EXPECT_GT(dropped, 0);
}

// ---- backward kernels: contributions of `rows` ranges, summed over strips ----

// The strips' results for dy rows in `strips`, each result band holding `resultRows(R)` (a
// whole result when nullopt), summed into whole tensors.
struct GradStrips {
  std::function<std::vector<Arg>(RowRange)> inputs;
  std::function<std::vector<Arg>(RowRange)> outputs;
};

std::vector<std::vector<float>> sumOverStrips(const std::string& kernel, const GradStrips& g, const IntAttrs& ints,
                                              const FloatAttrs& floats, const std::vector<RowRange>& strips,
                                              RunContext context = {}) {
  CpuBackend cpu;
  std::vector<std::vector<float>> total;
  for (RowRange r : strips) {
    IntAttrs attrs = ints;
    attrs.push_back({"rows", {r.begin, r.end}});
    const std::vector<Arg> outputs = g.outputs(r);
    const std::vector<std::vector<float>> got = runStep(cpu, kernel, g.inputs(r), outputs, attrs, floats, context);
    if (total.empty())
      for (const Arg& o : outputs) total.emplace_back(elementsOf(o.shape), 0.0f);
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (outputs[i].rows) {
        addRows(total[i], outputs[i].shape, *outputs[i].rows, got[i]);
      } else {
        for (size_t k = 0; k < got[i].size(); ++k) total[i][k] += got[i][k];
      }
    }
  }
  return total;
}

TEST(BandExec, ConvBackwardRowsSumToTheWholeGradient) {
  CpuBackend cpu;
  const Shape x = {2, 4, 10, 6}, w = {6, 2, 3, 3}, y = {2, 6, 5, 6};
  const IntAttrs attrs = convAttrs({2, 1}, {1, 1, 1, 1}, {1, 1}, 2);
  const kernels::WindowAxis axis = windowAxis(attrs, 0, 3);
  const std::vector<float> xv = randomFloats(elementsOf(x), 12), wv = randomFloats(elementsOf(w), 13),
                           dy = randomFloats(elementsOf(y), 14);
  IntAttrs gradInput = attrs, gradWeight = attrs;
  gradInput.push_back({"input_shape", x});
  gradWeight.push_back({"kernel", {3, 3}});
  const auto touched = [&](RowRange r) { return kernels::window_input_rows(axis, r.begin, r.end, x[2]); };

  const std::vector<float> dx = runStep(cpu, "conv2d_grad_input", {whole(y, dy), whole(w, wv)}, {result(x)}, gradInput)[0];
  const std::vector<float> dw = runStep(cpu, "conv2d_grad_weight", {whole(y, dy), whole(x, xv)}, {result(w)}, gradWeight)[0];
  const std::vector<float> db = runStep(cpu, "channel_sum", {whole(y, dy)}, {result({6})})[0];

  // dy bands: the strip's rows and one more on each side (rows outside `rows` must not count).
  const GradStrips gi{[&](RowRange r) {
                        return std::vector<Arg>{band(y, dy, widened(r, 1, y[2])), whole(w, wv)};
                      },
                      [&](RowRange r) { return std::vector<Arg>{result(x, widened(touched(r), 1, x[2]))}; }};
  EXPECT_LE(normalizedError(sumOverStrips("conv2d_grad_input", gi, gradInput, {}, raggedStrips(y[2]))[0], dx), 1e-6);
  const GradStrips gw{
      [&](RowRange r) {
        return std::vector<Arg>{band(y, dy, widened(r, 1, y[2])), band(x, xv, widened(touched(r), 1, x[2]))};
      },
      [&](RowRange) { return std::vector<Arg>{result(w)}; }};
  EXPECT_LE(normalizedError(sumOverStrips("conv2d_grad_weight", gw, gradWeight, {}, raggedStrips(y[2]))[0], dw), 1e-6);
  const GradStrips gb{[&](RowRange r) { return std::vector<Arg>{band(y, dy, widened(r, 1, y[2]))}; },
                      [&](RowRange) { return std::vector<Arg>{result({6})}; }};
  EXPECT_LE(normalizedError(sumOverStrips("channel_sum", gb, {}, {}, raggedStrips(y[2]))[0], db), 1e-6);
}

TEST(BandExec, PoolBackwardRowsSumToTheWholeGradient) {
  CpuBackend cpu;
  const Shape x = {2, 3, 9, 8}, y = {2, 3, 5, 4};
  const IntAttrs pool = {{"kernel", {3, 2}}, {"stride", {2, 2}}, {"pad", {1, 0, 1, 0}}, {"ceil_mode", {0}}};
  const kernels::WindowAxis axis{3, 2, 1, 1, 1};
  IntAttrs maxAttrs = pool, avgAttrs = pool;
  maxAttrs.push_back({"dilation", {1, 1}});
  avgAttrs.push_back({"count_include_pad", {0}});
  avgAttrs.push_back({"input_shape", x});
  const std::vector<float> xv = cpu::testing::distinctFloats(elementsOf(x), 15), dy = randomFloats(elementsOf(y), 16);
  const auto touched = [&](RowRange r) { return widened(kernels::window_input_rows(axis, r.begin, r.end, x[2]), 1, x[2]); };

  const std::vector<float> dxMax = runStep(cpu, "maxpool_grad", {whole(y, dy), whole(x, xv)}, {result(x)}, maxAttrs)[0];
  const GradStrips gm{[&](RowRange r) {
                        return std::vector<Arg>{band(y, dy, r), band(x, xv, touched(r))};
                      },
                      [&](RowRange r) { return std::vector<Arg>{result(x, touched(r))}; }};
  EXPECT_LE(normalizedError(sumOverStrips("maxpool_grad", gm, maxAttrs, {}, raggedStrips(y[2]))[0], dxMax), 1e-6);

  const std::vector<float> dxAvg = runStep(cpu, "avgpool_grad", {whole(y, dy)}, {result(x)}, avgAttrs)[0];
  const GradStrips ga{[&](RowRange) { return std::vector<Arg>{whole(y, dy)}; },  // rows of a whole dy
                      [&](RowRange r) { return std::vector<Arg>{result(x, touched(r))}; }};
  EXPECT_LE(normalizedError(sumOverStrips("avgpool_grad", ga, avgAttrs, {}, raggedStrips(y[2]))[0], dxAvg), 1e-6);
}

TEST(BandExec, ElementwiseBackwardRowsSumToTheWholeGradient) {
  CpuBackend cpu;
  const Shape x = {2, 3, 8, 5};
  const std::vector<float> xv = randomFloats(elementsOf(x), 17), dy = randomFloats(elementsOf(x), 18);
  const auto strips = raggedStrips(x[2]);
  // dy a band starting a row early, the forward operand a wider band, dx exactly the rows.
  const auto dyBand = [&](RowRange r) { return band(x, dy, {std::max<int64_t>(r.begin - 1, 0), r.end}); };

  const std::vector<float> dxRelu = runStep(cpu, "relu_grad", {whole(x, dy), whole(x, xv)}, {result(x)})[0];
  const GradStrips relu{[&](RowRange r) {
                          return std::vector<Arg>{dyBand(r), band(x, xv, widened(r, 2, x[2]))};
                        },
                        [&](RowRange r) { return std::vector<Arg>{result(x, r)}; }};
  EXPECT_EQ(sumOverStrips("relu_grad", relu, {}, {}, strips)[0], dxRelu);

  const IntAttrs drop = {{"training", {1}}, {"seed", {7}}};
  const FloatAttrs ratio = {{"ratio", 0.4}};
  RunContext context;
  context.step = 2;
  const std::vector<float> dxDrop = runStep(cpu, "dropout_grad", {whole(x, dy)}, {result(x)}, drop, ratio, context)[0];
  const GradStrips dropout{[&](RowRange r) { return std::vector<Arg>{dyBand(r)}; },
                           [&](RowRange r) { return std::vector<Arg>{result(x, r)}; }};
  EXPECT_EQ(sumOverStrips("dropout_grad", dropout, drop, ratio, strips, context)[0], dxDrop);

  // Frozen BatchNorm: dx rows, and the scale and bias gradients summed over the strips.
  const std::vector<float> scale = randomFloats(3, 19), mean = randomFloats(3, 20),
                           var = randomFloats(3, 21, 0.5f, 2.0f);
  const IntAttrs bn = {{"training", {0}}};
  const FloatAttrs eps = {{"epsilon", 1e-5}};
  const std::vector<std::vector<float>> want =
      runStep(cpu, "batchnorm_grad", {whole(x, dy), whole(x, xv), whole({3}, scale), whole({3}, mean), whole({3}, var)},
              {result(x), result({3}), result({3})}, bn, eps);
  const GradStrips bnStrips{[&](RowRange r) {
                              return std::vector<Arg>{dyBand(r), band(x, xv, widened(r, 1, x[2])), whole({3}, scale),
                                                      whole({3}, mean), whole({3}, var)};
                            },
                            [&](RowRange r) {
                              return std::vector<Arg>{result(x, r), result({3}), result({3})};
                            }};
  const std::vector<std::vector<float>> got = sumOverStrips("batchnorm_grad", bnStrips, bn, eps, strips);
  EXPECT_EQ(got[0], want[0]);
  EXPECT_LE(normalizedError(got[1], want[1]), 1e-6);
  EXPECT_LE(normalizedError(got[2], want[2]), 1e-6);
}

// `rows` limits a backward step to those rows of dy even when dy holds the whole map: the
// rows outside contribute nothing.
TEST(BandExec, RowsAttributeLimitsTheRowsPropagated) {
  CpuBackend cpu;
  const Shape x = {1, 2, 6, 3};
  const std::vector<float> dy = randomFloats(elementsOf(x), 22), y(elementsOf(x), 1.0f);
  const std::vector<float> dx = runStep(cpu, "relu_grad", {whole(x, dy), whole(x, y)}, {result(x)}, {{"rows", {2, 4}}})[0];
  std::vector<float> want(dx.size(), 0.0f);
  addRows(want, x, {2, 4}, cutRows(dy, x, {2, 4}));
  EXPECT_EQ(dx, want);
  const std::vector<float> sum = runStep(cpu, "channel_sum", {whole(x, dy)}, {result({2})}, {{"rows", {2, 4}}})[0];
  for (int64_t c = 0; c < 2; ++c) {
    double s = 0;
    for (int64_t h = 2; h < 4; ++h)
      for (int64_t w = 0; w < 3; ++w) s += dy[static_cast<size_t>((c * 6 + h) * 3 + w)];
    EXPECT_FLOAT_EQ(sum[static_cast<size_t>(c)], static_cast<float>(s));
  }
}

// ---- rows_copy and rows_sum ----

// A map whose element (n, c, h, w) is 1000 * tag + 100 * h + 10 * c + w: which source gave
// a row is readable from the value.
std::vector<float> taggedMap(const Shape& s, int tag) {
  std::vector<float> v;
  for (int64_t n = 0; n < s[0]; ++n)
    for (int64_t c = 0; c < s[1]; ++c)
      for (int64_t h = 0; h < s[2]; ++h)
        for (int64_t w = 0; w < s[3]; ++w) v.push_back(static_cast<float>(1000 * tag + 100 * h + 10 * c + w + n));
  return v;
}

TEST(BandExec, RowsCopyTakesEachRowFromTheLastSourceHoldingIt) {
  CpuBackend cpu;
  const Shape m = {1, 2, 9, 3};
  const std::vector<float> a = taggedMap(m, 1), b = taggedMap(m, 2), c = taggedMap(m, 3);
  // Result rows [1, 8): a holds [0, 4), b [3, 5), c [4, 6); rows [6, 8) have no source.
  const std::vector<float> got = runStep(cpu, "rows_copy", {band(m, a, {0, 4}), band(m, b, {3, 5}), band(m, c, {4, 6})},
                                         {result(m, RowRange{1, 8})})[0];
  std::vector<float> want(static_cast<size_t>(2 * 7 * 3), 0.0f);
  size_t i = 0;
  for (int64_t ch = 0; ch < 2; ++ch)
    for (int64_t h = 1; h < 8; ++h)
      for (int64_t w = 0; w < 3; ++w, ++i) {
        const int tag = h < 3 ? 1 : h < 4 ? 2 : h < 6 ? 3 : 0;
        if (tag) want[i] = static_cast<float>(1000 * tag + 100 * h + 10 * ch + w);
      }
  EXPECT_EQ(got, want);
  // The order of the sources decides: a after b wins row 3.
  const std::vector<float> swapped =
      runStep(cpu, "rows_copy", {band(m, b, {3, 5}), band(m, a, {0, 4})}, {result(m, RowRange{3, 4})})[0];
  EXPECT_EQ(swapped, cutRows(a, m, {3, 4}));
  // A whole result from one whole source is a copy.
  EXPECT_EQ(runStep(cpu, "rows_copy", {whole(m, c)}, {result(m)})[0], c);
}

TEST(BandExec, RowsSumAddsTheSourcesRowsInsideTheBand) {
  CpuBackend cpu;
  const Shape m = {2, 1, 7, 2};
  const std::vector<float> a = randomFloats(elementsOf(m), 23), b = randomFloats(elementsOf(m), 24),
                           c = randomFloats(elementsOf(m), 25);
  // Result rows [2, 6): a holds [0, 4), b [3, 7) (rows 6 outside the band are ignored), c the
  // whole map.
  const std::vector<float> got =
      runStep(cpu, "rows_sum", {band(m, a, {0, 4}), band(m, b, {3, 7}), whole(m, c)}, {result(m, RowRange{2, 6})})[0];
  std::vector<float> want(elementsOf(m), 0.0f);
  addRows(want, m, {0, 7}, c);
  addRows(want, m, {2, 4}, cutRows(a, m, {2, 4}));
  addRows(want, m, {3, 6}, cutRows(b, m, {3, 6}));
  EXPECT_LE(normalizedError(got, cutRows(want, m, {2, 6})), 1e-6);
  // Rows no source holds are 0.
  const std::vector<float> gap = runStep(cpu, "rows_sum", {band(m, a, {0, 2})}, {result(m, RowRange{1, 4})})[0];
  std::vector<float> gapWant(elementsOf({2, 1, 3, 2}), 0.0f);
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t w = 0; w < 2; ++w) gapWant[static_cast<size_t>(n * 6 + w)] = a[static_cast<size_t>(n * 14 + 2 + w)];
  EXPECT_EQ(gap, gapWant);
}

// ---- validation of steps on bands ----

// The validation error of a one-step plan, or "".
std::string stepError(const std::string& kernel, const std::vector<Arg>& inputs, const std::vector<Arg>& outputs,
                      const IntAttrs& ints = {}, const FloatAttrs& floats = {}) {
  return oneStepPlan(kernel, inputs, outputs, ints, floats).validationError();
}

#define EXPECT_STEP_ERROR(text, ...)                         \
  do {                                                       \
    const std::string error = stepError(__VA_ARGS__);        \
    EXPECT_NE(error.find(text), std::string::npos) << error; \
    EXPECT_EQ(error.find('\n'), std::string::npos) << error; \
  } while (0)

TEST(BandExec, LoaderRejectsBandsThatMissRows) {
  const Shape x = {1, 2, 8, 4}, w = {2, 2, 3, 3};
  const std::vector<float> none;
  const IntAttrs conv = convAttrs({1, 1}, {1, 1, 1, 1}, {1, 1}, 1);
  // Output rows [2, 5) of a 3x3 convolution read input rows [1, 6).
  EXPECT_EQ(stepError("conv2d", {band(x, none, {1, 6}), whole(w, none)}, {result(x, RowRange{2, 5})}, conv), "");
  EXPECT_STEP_ERROR("input 'in0' holds rows [2, 6), the result rows [2, 5) read rows [1, 6)", "conv2d",
                    {band(x, none, {2, 6}), whole(w, none)}, {result(x, RowRange{2, 5})}, conv);
  EXPECT_STEP_ERROR("operand 'in1' holds rows [0, 3), the result rows [2, 4) read rows [2, 4)", "add",
                    {band(x, none, {2, 4}), band(x, none, {0, 3})}, {result(x, RowRange{2, 4})});
  // The map heights must agree: a band of a 9-row map is not an operand of an 8-row one.
  EXPECT_STEP_ERROR("result 'out0' is f32[1,2,2,4] rows [2,4) of 9, expected f32[1,2,8,4]", "relu",
                    {band(x, none, {2, 4})}, {result({1, 2, 9, 4}, RowRange{2, 4})});
  // Backward: `rows` inside dy's rows; dx holding what they touch.
  IntAttrs grad = conv;
  grad.push_back({"input_shape", x});
  grad.push_back({"rows", {3, 5}});
  EXPECT_EQ(stepError("conv2d_grad_input", {band(x, none, {3, 5}), whole(w, none)}, {result(x, RowRange{2, 6})}, grad),
            "");
  EXPECT_STEP_ERROR("output gradient 'in0' holds rows [4, 6), attribute 'rows' names rows [3, 5)", "conv2d_grad_input",
                    {band(x, none, {4, 6}), whole(w, none)}, {result(x, RowRange{2, 6})}, grad);
  EXPECT_STEP_ERROR("result 'out0' holds rows [2, 5), the output gradient rows [3, 5) reach rows [2, 6)",
                    "conv2d_grad_input", {band(x, none, {3, 5}), whole(w, none)}, {result(x, RowRange{2, 5})}, grad);
  EXPECT_STEP_ERROR("attribute 'rows' value 9 is outside [0, 8]", "relu_grad", {whole(x, none), whole(x, none)},
                    {result(x)}, {{"rows", {2, 9}}});
  EXPECT_STEP_ERROR("attribute 'rows' [4, 2) is not a row range", "relu_grad", {whole(x, none), whole(x, none)},
                    {result(x)}, {{"rows", {4, 2}}});
}

TEST(BandExec, LoaderRejectsBandsWhereKernelsTakeNone) {
  const Shape x = {2, 3, 4, 1};
  const std::vector<float> none;
  EXPECT_STEP_ERROR("kernel 'flatten' takes no row band as operand 0: #1 'in0' is f32[2,3,2,1] rows [1,3) of 4",
                    "flatten", {band(x, none, {1, 3})}, {result({2, 6})}, {{"axis", {1}}});
  // Weights, statistics and parameter gradients are whole tensors.
  const Shape w = {3, 3, 2, 1};
  IntAttrs conv = convAttrs({1, 1}, {0, 0, 0, 0}, {1, 1}, 1);
  EXPECT_STEP_ERROR("kernel 'conv2d' takes no row band as operand 1: #2 'in1' is f32[3,3,1,1] rows [0,1) of 2",
                    "conv2d", {band(x, none, {0, 4}), band(w, none, {0, 1})}, {result({2, 3, 3, 1}, RowRange{0, 3})},
                    conv);
  conv.push_back({"kernel", {2, 1}});
  EXPECT_STEP_ERROR("kernel 'conv2d_grad_weight' takes no row band as result 0: #3 'out0' is f32[3,3,1,1] rows [1,2)",
                    "conv2d_grad_weight", {band({2, 3, 3, 1}, none, {0, 3}), band(x, none, {0, 4})},
                    {result(w, RowRange{1, 2})}, conv);
  EXPECT_STEP_ERROR("attribute 'rows' is only for backward kernels of row plans", "relu", {whole(x, none)}, {result(x)},
                    {{"rows", {0, 2}}});
  // Training-mode BatchNorm on bands (--bn strip) takes the statistics of exactly the rows
  // its bands hold: input and result must hold the same rows.
  EXPECT_STEP_ERROR("training-mode batch statistics on row bands: the result 'out0' (f32[2,3,2,1] rows [0,2) of 4) "
                    "must hold the input's rows [0, 3)",
                    "batchnorm",
                    {band(x, none, {0, 3}), whole({3}, none), whole({3}, none), whole({3}, none), whole({3}, none)},
                    {result(x, RowRange{0, 2})}, {{"training", {1}}}, {{"epsilon", 1e-5}, {"momentum", 0.9}});
  // On rows, the binary ops broadcast only a whole per-channel operand (H = W = 1).
  EXPECT_EQ(stepError("mul", {band(x, none, {0, 2}), whole({2, 3, 1, 1}, none)}, {result(x, RowRange{0, 2})}), "");
  EXPECT_STEP_ERROR("operand 'in1' is f32[3,4,1]: on rows, only a band of the map [2,3,4,1] or a per-channel tensor "
                    "(H = W = 1) broadcast over its rows",
                    "add", {band(x, none, {0, 2}), whole({3, 4, 1}, none)}, {result(x, RowRange{0, 2})});
  // reduce_mean sums a band's rows (a recomputed SE mean's strips) and reduce_mean_grad writes a
  // band's rows of its broadcast only when the rows are among the reduced axes.
  const Shape m = {2, 3, 4, 2}, perRow = {2, 3, 4, 1};
  const IntAttrs sum = {{"axes", {2, 3}}, {"keepdims", {1}}, {"sum", {1}}};
  EXPECT_EQ(stepError("reduce_mean", {band(m, none, {1, 3})}, {result({2, 3, 1, 1})}, sum), "");
  EXPECT_EQ(stepError("reduce_mean_grad", {whole({2, 3, 1, 1}, none)}, {result(m, RowRange{1, 3})},
                      {{"axes", {2, 3}}, {"input_shape", m}}),
            "");
  EXPECT_STEP_ERROR("on a row band reduce_mean must reduce axis 2 (the rows), 'axes' is [3]", "reduce_mean",
                    {band(m, none, {1, 3})}, {result(perRow)}, {{"axes", {3}}, {"keepdims", {1}}, {"sum", {1}}});
  EXPECT_STEP_ERROR("on a row band reduce_mean_grad must reduce axis 2 (the rows), 'axes' is [3]", "reduce_mean_grad",
                    {whole(perRow, none)}, {result(m, RowRange{1, 3})}, {{"axes", {3}}, {"input_shape", m}});
  EXPECT_STEP_ERROR("source 'in1' is f32[2,3,5,1], expected f32[2,3,4,1]", "rows_copy",
                    {band(x, none, {0, 2}), whole({2, 3, 5, 1}, none)}, {result(x, RowRange{0, 2})});
}

// Band geometry of a buffer: only rank-4 f32, rows inside the map, no row0 without a height.
TEST(BandExec, LoaderRejectsBadBandGeometry) {
  auto errorWith = [](const std::function<void(plan::Buffer&)>& damage) {
    HandPlan p;
    const uint32_t x = p.buffer("x", {1, 2, 8, 4}, plan::CONSTANT);
    const uint32_t y = p.buffer("y", {1, 2, 8, 4}, plan::ACTIVATION, RowRange{2, 5});
    p.step("relu", {x}, {y});
    damage(*p.mutablePlan().mutable_buffers(static_cast<int>(y)));
    return p.validationError();
  };
  EXPECT_EQ(errorWith([](plan::Buffer&) {}), "");
  const std::pair<std::function<void(plan::Buffer&)>, std::string> cases[] = {
      {[](plan::Buffer& b) { b.set_row0(-1); },
       "buffer #1 'y': band rows [-1, 2) are not inside the map's rows [0, 8)"},
      {[](plan::Buffer& b) { b.set_row0(6); }, "buffer #1 'y': band rows [6, 9) are not inside the map's rows [0, 8)"},
      {[](plan::Buffer& b) { b.set_height(4); },
       "buffer #1 'y': band rows [2, 5) are not inside the map's rows [0, 4)"},
      {[](plan::Buffer& b) { b.set_height(-8); }, "buffer #1 'y': band height -8 is negative"},
      {[](plan::Buffer& b) { b.set_height(0); }, "buffer #1 'y': row0 2 without a band height"},
      {[](plan::Buffer& b) { b.set_height(int64_t{1} << 62); },
       "buffer #1 'y': band height 4611686018427387904 makes a map of too many elements"},
      {[](plan::Buffer& b) {
         b.set_dtype(plan::I64);
         b.set_bytes(b.bytes() * 2);
       },
       "buffer #1 'y': band height 8 on i64[1,2,3,4]: only f32 maps of rank 4 are row bands"},
      {[](plan::Buffer& b) { b.add_shape(1); },
       "buffer #1 'y': band height 8 on f32[1,2,3,4,1]: only f32 maps of rank 4 are row bands"},
  };
  for (const auto& [damage, message] : cases) {
    const std::string error = errorWith(damage);
    EXPECT_EQ(error, "band.plan: " + message);
  }
}

// ---- emission: band values become buffers with row geometry; `rows` is a kernel attribute ----

std::unique_ptr<ir::Module> plannedModule(const std::string& text) {
  std::unique_ptr<ir::Module> m = ir::parseModule(text);
  ir::verifyModule(*m);
  passes::createPass("plan-memory")->run(*m);
  for (ir::Value* v : m->globals) v->floats = randomFloats(v->type.numElements(), 26);
  return m;
}

TEST(BandExec, EmittedBandsRunLikeTheWholeMap) {
  const char* text = R"(module @m {
  input %x : f32[1,2,6,5]
  param @w : f32[2,2,3,3]
  %y = conv2d(%x, @w) {dilation=[1,1], group=1, pad=[1,1,1,1], stride=[1,1]} : f32[1,2,6,5]
  %y0 = conv2d(%x, @w) {band=[0,4,6], dilation=[1,1], group=1, pad=[1,1,1,1], stride=[1,1]} : f32[1,2,4,5]
  %y1 = conv2d(%x, @w) {band=[3,6,6], dilation=[1,1], group=1, pad=[1,1,1,1], stride=[1,1]} : f32[1,2,3,5]
  %s = rows_copy(%y0, %y1) {band=[0,6,6]} : f32[1,2,6,5]
  %d = relu_grad(%y, %s) {band=[1,3,6], rows=[1,3]} : f32[1,2,2,5]
  return %s, %d
}
)";
  std::unique_ptr<ir::Module> m = plannedModule(text);
  std::string weights;
  const plan::Plan p = compiler::emitForwardPlan(*m, weights);
  auto bufferNamed = [&](const std::string& name) -> const plan::Buffer& {
    for (const plan::Buffer& b : p.buffers())
      if (b.name() == name) return b;
    throw std::runtime_error("no buffer " + name);
  };
  EXPECT_EQ(bufferNamed("y").height(), 0);
  EXPECT_EQ(bufferNamed("y0").row0(), 0);
  EXPECT_EQ(bufferNamed("y0").height(), 6);
  EXPECT_EQ(bufferNamed("y1").row0(), 3);
  EXPECT_EQ(bufferNamed("y1").height(), 6);
  EXPECT_EQ(bufferNamed("y1").shape(2), 3);
  EXPECT_EQ(bufferNamed("d").row0(), 1);
  EXPECT_EQ(bufferNamed("d").height(), 6);
  for (const plan::Step& step : p.train().steps()) {
    EXPECT_EQ(findAttr(step, "band"), nullptr) << step.kernel();
    if (step.kernel() == "relu_grad") {
      ASSERT_NE(findAttr(step, "rows"), nullptr);
      EXPECT_EQ(attrInts(step, "rows"), (std::vector<int64_t>{1, 3}));
    }
  }
  EXPECT_NE(plan::printPlan(p).find("y1 : f32[1,2,3,5] rows [3,6) of 6 at"), std::string::npos) << plan::printPlan(p);

  // The two strips assembled equal the whole-map convolution.
  CpuBackend backend;
  backend.allocateArena(p.arena_bytes());
  writeInitialData(p, plan::MemoryWeights(weights), backend);
  const std::vector<float> x = randomFloats(60, 27);
  backend.copyIn(bufferNamed("x").offset(), x.data(), 240);
  for (const PreparedStep& step : preparePlan(p).train) backend.run(step, RunContext{});
  std::vector<float> y(60), s(60);
  backend.copyOut(bufferNamed("y").offset(), y.data(), 240);
  backend.copyOut(bufferNamed("s").offset(), s.data(), 240);
  EXPECT_LE(normalizedError(s, y), 1e-6);
}

TEST(BandExec, PipelineGradIsNotEmitted) {
  const char* text = R"(module @m {
  input %x : f32[1,1,4,4]
  input %dy : f32[1,1,4,4]
  %g = pipeline_grad(%dy, %x) {grads=[1], pipeline=0} : f32[1,1,4,4]
  return %g
}
)";
  std::unique_ptr<ir::Module> m = plannedModule(text);
  std::string weights;
  try {
    compiler::emitForwardPlan(*m, weights);
    FAIL() << "no error";
  } catch (const ir::Error& e) {
    EXPECT_NE(std::string(e.what()).find("pipeline_grad %g must be lowered by lower-row-pipelines"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace lrc::runtime::testing

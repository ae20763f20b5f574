// The binary element-wise family (add, sub, mul, div) and reduce_mean on the CPU backend, in
// one-step plans: forward against a double reference with numpy broadcasting written here,
// each operand's gradient kernel against central finite differences of that reference (the
// loss sum(w * f(a, b)), so dy = w), on whole tensors and on rows with a whole per-channel
// operand (the squeeze-and-excitation gate x * g).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "hand_plan.h"
#include "ops/Shapes.h"
#include "runtime/cpu/StridedLoop.h"
#include "runtime/kernels/Binary.h"

namespace lrc::runtime::testing {
namespace {

using cpu::testing::normalizedError;
using cpu::testing::numericGradient;
using cpu::testing::randomFloats;
using cpu::testing::toDouble;

double apply(const std::string& op, double a, double b) {
  if (op == "add") return a + b;
  if (op == "sub") return a - b;
  if (op == "mul") return a * b;
  return a / b;
}

// The index into an operand of `shape` of element i of the broadcast result `out`.
int64_t broadcastIndex(const Shape& shape, const Shape& out, int64_t i) {
  int64_t index = 0, stride = 1;
  for (size_t d = out.size(); d-- > 0;) {
    const int64_t coordinate = i % out[d];
    i /= out[d];
    const size_t k = d + shape.size();
    if (k < out.size()) continue;  // an axis the operand lacks
    const int64_t extent = shape[k - out.size()];
    if (extent != 1) index += coordinate * stride;
    stride *= extent;
  }
  return index;
}

std::vector<double> reference(const std::string& op, const std::vector<double>& a, const Shape& as,
                              const std::vector<double>& b, const Shape& bs, const Shape& out) {
  std::vector<double> y(static_cast<size_t>(elementsOf(out)));
  for (int64_t i = 0; i < elementsOf(out); ++i)
    y[static_cast<size_t>(i)] = apply(op, a[static_cast<size_t>(broadcastIndex(as, out, i))],
                                      b[static_cast<size_t>(broadcastIndex(bs, out, i))]);
  return y;
}

// Rows r of a map of shape s.
std::vector<double> rowsOf(const std::vector<double>& v, const Shape& s, RowRange r) {
  std::vector<double> out;
  for (int64_t p = 0; p < s[0] * s[1]; ++p)
    for (int64_t h = r.begin; h < r.end; ++h)
      for (int64_t k = 0; k < s[3]; ++k) out.push_back(v[static_cast<size_t>((p * s[2] + h) * s[3] + k)]);
  return out;
}

std::vector<float> run(const std::string& kernel, const std::vector<Arg>& inputs, const Arg& out,
                       const IntAttrs& ints = {}) {
  const HandPlan p = oneStepPlan(kernel, inputs, {out}, ints, {});
  EXPECT_EQ(p.validationError(), "");
  CpuBackend cpu;
  return runPlanStep(cpu, p, inputs).results.at(0);
}

// Values at least 0.5 from 0 (div's denominators).
std::vector<float> awayFromZero(std::vector<float> v) {
  for (float& x : v) x = x < 0 ? x - 0.5f : x + 0.5f;
  return v;
}

struct BroadcastCase {
  Shape a, b, y;
};
const BroadcastCase kCases[] = {
    {{2, 3, 4, 5}, {2, 3, 4, 5}, {2, 3, 4, 5}},  // same shapes
    {{2, 3, 4, 5}, {2, 3, 1, 1}, {2, 3, 4, 5}},  // a per-channel gate
    {{3, 1, 1}, {2, 3, 4, 5}, {2, 3, 4, 5}},     // a per-channel parameter first
    {{4, 1}, {1, 5}, {4, 5}},                     // both broadcast
    {{}, {2, 3}, {2, 3}},                         // a scalar
};

TEST(Binary, ForwardAndGradientsMatchReferenceAndFiniteDifferences) {
  uint32_t seed = 100;
  for (const std::string op : {"add", "sub", "mul", "div"}) {
    for (const BroadcastCase& c : kCases) {
      SCOPED_TRACE(op + " " + ops::shapeText(c.a) + " " + ops::shapeText(c.b));
      const std::vector<float> a = randomFloats(elementsOf(c.a), seed++),
                               b = awayFromZero(randomFloats(elementsOf(c.b), seed++)),
                               w = randomFloats(elementsOf(c.y), seed++);
      const std::vector<float> y = run(op, {whole(c.a, a), whole(c.b, b)}, result(c.y));
      EXPECT_LT(normalizedError(y, reference(op, toDouble(a), c.a, toDouble(b), c.b, c.y)), 1e-6);
      std::vector<double> ad = toDouble(a), bd = toDouble(b);
      const std::function<double()> loss = [&] {
        const std::vector<double> yd = reference(op, ad, c.a, bd, c.b, c.y);
        double s = 0;
        for (size_t i = 0; i < yd.size(); ++i) s += w[i] * yd[i];
        return s;
      };
      const std::vector<double> da = numericGradient(ad, loss, 1e-4), db = numericGradient(bd, loss, 1e-4);
      const std::vector<Arg> in = {whole(c.y, w), whole(c.a, a), whole(c.b, b)};
      EXPECT_LT(normalizedError(run(op + "_grad", in, result(c.a), {{"operand", {0}}}), da), 1e-5);
      EXPECT_LT(normalizedError(run(op + "_grad", in, result(c.b), {{"operand", {1}}}), db), 1e-5);
    }
  }
}

// x * g on rows [2, 5) of a 7-row map: the result band is the reference's rows, the map's
// gradient the band of those rows, the gate's the sum over them.
TEST(Binary, PerChannelOperandOnRows) {
  const Shape map = {2, 3, 7, 4}, gate = {2, 3, 1, 1};
  const RowRange r = {2, 5};
  const std::vector<float> x = randomFloats(elementsOf(map), 7), g = awayFromZero(randomFloats(6, 8)),
                           w = randomFloats(elementsOf(map), 9);
  const std::vector<double> want = reference("mul", toDouble(x), map, toDouble(g), gate, map);
  const std::vector<float> y = run("mul", {band(map, x, {1, 6}), whole(gate, g)}, result(map, r));
  EXPECT_LT(normalizedError(y, rowsOf(want, map, r)), 1e-6);
  // Only rows [2, 5) of dy reach the gradients.
  std::vector<float> wRows(w.size(), 0.0f);
  for (int64_t n = 0; n < map[0] * map[1]; ++n)
    for (int64_t h = r.begin; h < r.end; ++h)
      for (int64_t k = 0; k < map[3]; ++k) {
        const auto i = static_cast<size_t>((n * map[2] + h) * map[3] + k);
        wRows[i] = w[i];
      }
  std::vector<double> xd = toDouble(x), gd = toDouble(g);
  const std::function<double()> loss = [&] {
    const std::vector<double> yd = reference("mul", xd, map, gd, gate, map);
    double s = 0;
    for (size_t i = 0; i < yd.size(); ++i) s += wRows[i] * yd[i];
    return s;
  };
  const std::vector<double> dx = numericGradient(xd, loss, 1e-4), dg = numericGradient(gd, loss, 1e-4);
  const std::vector<Arg> in = {band(map, w, {1, 7}), band(map, x, r), whole(gate, g)};
  const IntAttrs rows = {{"rows", {r.begin, r.end}}};
  IntAttrs first = rows, second = rows;
  first.push_back({"operand", {0}});
  second.push_back({"operand", {1}});
  EXPECT_LT(normalizedError(run("mul_grad", in, result(map, r), first), rowsOf(dx, map, r)), 1e-5);
  EXPECT_LT(normalizedError(run("mul_grad", in, result(gate), second), dg), 1e-5);
}

// The mean over axes (kept or dropped), and the sum (sum=1, ONNX ReduceSum), against a double
// reference; their gradients against finite differences.
TEST(ReduceMean, ForwardAndGradient) {
  const Shape xs = {2, 3, 4, 5};
  const std::vector<float> x = randomFloats(elementsOf(xs), 12);
  for (int64_t sum : {0, 1})
  for (const std::vector<int64_t>& axes : {std::vector<int64_t>{2, 3}, {1}, {0, 1, 2, 3}}) {
    SCOPED_TRACE("sum=" + std::to_string(sum));
    Shape kept = xs;
    for (int64_t a : axes) kept[static_cast<size_t>(a)] = 1;
    std::vector<double> xd = toDouble(x);
    auto mean = [&] {
      std::vector<double> y(static_cast<size_t>(elementsOf(kept)), 0.0);
      for (int64_t i = 0; i < elementsOf(xs); ++i)
        y[static_cast<size_t>(broadcastIndex(kept, xs, i))] += xd[static_cast<size_t>(i)];
      if (sum == 0)
        for (double& v : y) v *= static_cast<double>(elementsOf(kept)) / static_cast<double>(elementsOf(xs));
      return y;
    };
    EXPECT_LT(normalizedError(run("reduce_mean", {whole(xs, x)}, result(kept), {{"axes", axes}, {"keepdims", {1}}, {"sum", {sum}}}),
                              mean()),
              1e-6);
    const std::vector<float> w = randomFloats(elementsOf(kept), 13);
    const std::function<double()> loss = [&] {
      const std::vector<double> y = mean();
      double s = 0;
      for (size_t i = 0; i < y.size(); ++i) s += w[i] * y[i];
      return s;
    };
    const std::vector<double> dx = numericGradient(xd, loss, 1e-4);
    EXPECT_LT(normalizedError(run("reduce_mean_grad", {whole(kept, w)}, result(xs), {{"axes", axes}, {"input_shape", xs}, {"sum", {sum}}}),
                              dx),
              1e-5);
  }
}

// A recomputed SE mean in strips (lower-row-pipelines): each ragged strip's sum over its rows
// (reduce_mean {sum=1} on a band), the sums added in row order, then divided once by H*W
// (reduce_mean {input_shape}) give the whole map's mean; its gradient on a band
// (reduce_mean_grad {band}) is the band's rows of the whole gradient, dy over H*W.
TEST(ReduceMean, StripSumsAndBandGradient) {
  const Shape map = {2, 3, 7, 4}, kept = {2, 3, 1, 1};
  const std::vector<float> x = randomFloats(elementsOf(map), 21), w = randomFloats(elementsOf(kept), 22);
  std::vector<double> xd = toDouble(x);
  auto mean = [&](RowRange rows, bool divide) {
    std::vector<double> y(static_cast<size_t>(elementsOf(kept)), 0.0);
    for (int64_t n = 0; n < map[0] * map[1]; ++n)
      for (int64_t h = rows.begin; h < rows.end; ++h)
        for (int64_t k = 0; k < map[3]; ++k)
          y[static_cast<size_t>(n)] += xd[static_cast<size_t>((n * map[2] + h) * map[3] + k)];
    if (divide)
      for (double& v : y) v /= static_cast<double>(map[2] * map[3]);
    return y;
  };
  const IntAttrs sumAttrs = {{"axes", {2, 3}}, {"keepdims", {1}}, {"sum", {1}}};
  std::vector<float> total(static_cast<size_t>(elementsOf(kept)), 0.0f);
  for (const RowRange& r : raggedStrips(map[2])) {
    const std::vector<float> partial = run("reduce_mean", {band(map, x, r)}, result(kept), sumAttrs);
    EXPECT_LT(normalizedError(partial, mean(r, false)), 1e-6);
    for (size_t i = 0; i < total.size(); ++i) total[i] += partial[i];
  }
  const IntAttrs meanAttrs = {{"axes", {2, 3}}, {"keepdims", {1}}, {"input_shape", map}};
  EXPECT_LT(normalizedError(run("reduce_mean", {whole(kept, total)}, result(kept), meanAttrs), mean({0, map[2]}, true)), 1e-6);
  const std::function<double()> loss = [&] {
    const std::vector<double> y = mean({0, map[2]}, true);
    double s = 0;
    for (size_t i = 0; i < y.size(); ++i) s += w[i] * y[i];
    return s;
  };
  const std::vector<double> dx = numericGradient(xd, loss, 1e-4);
  for (const RowRange& r : raggedStrips(map[2]))
    EXPECT_LT(normalizedError(run("reduce_mean_grad", {whole(kept, w)}, result(map, r), {{"axes", {2, 3}}, {"input_shape", map}}),
                              rowsOf(dx, map, r)),
              1e-5);
}

// The CPU's odometer loop (runtime/cpu/StridedLoop.h) against the per-element loop the CUDA
// backend runs (kernels::Reduce): the same sums in the same order, so equal bit for bit, for
// broadcast operands, permuted strides (a transpose) and sums over leading, middle and
// trailing axes, with and without kept axes.
TEST(StridedLoop, OdometerEqualsPerElementReduceBitForBit) {
  struct Case {
    Shape extent, result, a, b;  // strides by position in extent
  };
  const Case cases[] = {
      {{2, 3, 4, 5}, {60, 20, 5, 1}, {60, 20, 5, 1}, {0, 1, 0, 0}},      // a per-channel operand
      {{2, 3, 4, 5}, {0, 1, 0, 0}, {60, 20, 5, 1}, {60, 20, 5, 1}},      // a per-channel gradient
      {{2, 3, 4, 5}, {0, 0, 0, 0}, {60, 20, 5, 1}, {1, 2, 6, 24}},       // everything summed
      {{2, 3, 4, 5}, {20, 0, 5, 1}, {1, 2, 6, 24}, {0, 0, 0, 0}},        // a middle sum, a scalar
      {{3, 7}, {1, 3}, {7, 1}, {0, 1}},                                  // a transpose
      {{2, 1, 5, 3}, {15, 15, 3, 0}, {15, 15, 3, 1}, {0, 0, 0, 1}},      // a trailing sum, a unit axis
  };
  for (const Case& c : cases) {
    const kernels::ReduceLoop loop = kernels::ReduceLoop::over(c.extent, c.result);
    const std::vector<float> dy = randomFloats(200, 3), a = randomFloats(200, 4), b = randomFloats(200, 5);
    const kernels::BinaryGradTerm<kernels::Mul> term{loop.operand(dy.data(), c.a), loop.operand(a.data(), c.b),
                                                     loop.operand(b.data(), c.a), 1};
    std::vector<float> expected(200, -1.0f), got(200, -1.0f);
    const auto reduce = kernels::makeReduce(expected.data(), loop, term, 0.5f);
    for (int64_t k = 0; k < loop.kept.count(); ++k) reduce(k);
    cpu::runStrided(got.data(), loop, term, 0.5f);
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_EQ(std::memcmp(&got[i], &expected[i], sizeof(float)), 0) << "element " << i;
  }
}

}  // namespace
}  // namespace lrc::runtime::testing

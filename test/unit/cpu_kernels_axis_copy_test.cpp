// concat, slice and slice_grad on the CPU backend (runtime/AxisCopySteps.h), in one-step plans:
// against index-by-index references on every axis, on row bands along channels, and the
// gradients (slice_grad for slice, slices of dy for concat) against central finite
// differences of a weighted sum of the result.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "hand_plan.h"

namespace lrc::runtime::testing {
namespace {

using cpu::testing::randomFloats;

// Element (outer, i, inner) of a tensor of `shape` seen around `axis`.
struct AxisShape {
  int64_t outer = 1, dim = 1, inner = 1;
  AxisShape(const Shape& s, int64_t axis) {
    for (size_t d = 0; d < s.size(); ++d) {
      if (static_cast<int64_t>(d) < axis) outer *= s[d];
      if (static_cast<int64_t>(d) > axis) inner *= s[d];
    }
    dim = s[static_cast<size_t>(axis)];
  }
  int64_t at(int64_t o, int64_t i, int64_t in) const { return (o * dim + i) * inner + in; }
};

std::vector<float> referenceConcat(const std::vector<Shape>& shapes, const std::vector<std::vector<float>>& xs,
                                   int64_t axis, const Shape& y) {
  const AxisShape out(y, axis);
  std::vector<float> r(static_cast<size_t>(elementsOf(y)));
  int64_t offset = 0;
  for (size_t k = 0; k < xs.size(); ++k) {
    const AxisShape in(shapes[k], axis);
    for (int64_t o = 0; o < in.outer; ++o)
      for (int64_t i = 0; i < in.dim; ++i)
        for (int64_t j = 0; j < in.inner; ++j)
          r[static_cast<size_t>(out.at(o, offset + i, j))] = xs[k][static_cast<size_t>(in.at(o, i, j))];
    offset += in.dim;
  }
  return r;
}

std::vector<float> referenceSlice(const Shape& x, const std::vector<float>& v, int64_t axis, int64_t start, int64_t end) {
  Shape y = x;
  y[static_cast<size_t>(axis)] = end - start;
  const AxisShape in(x, axis), out(y, axis);
  std::vector<float> r(static_cast<size_t>(elementsOf(y)));
  for (int64_t o = 0; o < out.outer; ++o)
    for (int64_t i = 0; i < out.dim; ++i)
      for (int64_t j = 0; j < out.inner; ++j) r[static_cast<size_t>(out.at(o, i, j))] = v[static_cast<size_t>(in.at(o, start + i, j))];
  return r;
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

TEST(AxisCopy, ConcatEveryAxisMatchesReference) {
  const Shape a = {2, 3, 4, 5};
  const std::vector<float> x0 = randomFloats(elementsOf(a), 1), x1 = randomFloats(2 * elementsOf(a), 2);
  for (int64_t axis = 0; axis < 4; ++axis) {
    Shape b = a, y = a;
    b[static_cast<size_t>(axis)] *= 2;
    y[static_cast<size_t>(axis)] *= 3;
    CpuBackend cpu;
    const auto got = runStep(cpu, "concat", {whole(a, x0), whole(b, x1)}, {result(y)}, {{"axis", {axis}}});
    EXPECT_EQ(got[0], referenceConcat({a, b}, {x0, x1}, axis, y)) << "axis " << axis;
  }
  CpuBackend cpu;
  const std::vector<float> m = randomFloats(6, 3);
  EXPECT_EQ(runStep(cpu, "concat", {whole({2, 3}, m), whole({2, 3}, m)}, {result({2, 6})}, {{"axis", {1}}})[0],
            referenceConcat({{2, 3}, {2, 3}}, {m, m}, 1, {2, 6}));
}

// Along channels on rows: the result band's rows of each operand band (which hold more).
TEST(AxisCopy, ConcatOnRows) {
  const Shape a = {2, 3, 6, 4}, b = {2, 1, 6, 4}, y = {2, 4, 6, 4};
  const std::vector<float> x0 = randomFloats(elementsOf(a), 4), x1 = randomFloats(elementsOf(b), 5);
  const std::vector<float> want = referenceConcat({a, b}, {x0, x1}, 1, y);
  for (RowRange r : raggedStrips(6)) {
    CpuBackend cpu;
    const auto got = runStep(cpu, "concat", {band(a, x0, widened(r, 1, 6)), whole(b, x1)}, {result(y, r)}, {{"axis", {1}}});
    EXPECT_EQ(got[0], cutRows(want, y, r)) << "rows " << r.begin << ".." << r.end;
  }
}

TEST(AxisCopy, SliceMatchesReference) {
  const Shape x = {2, 5, 4, 3};
  const std::vector<float> v = randomFloats(elementsOf(x), 6);
  for (int64_t axis = 0; axis < 4; ++axis) {
    const int64_t start = 1, end = x[static_cast<size_t>(axis)];
    Shape y = x;
    y[static_cast<size_t>(axis)] = end - start;
    CpuBackend cpu;
    const auto got = runStep(cpu, "slice", {whole(x, v)}, {result(y)}, {{"axis", {axis}}, {"start", {start}}, {"end", {end}}});
    EXPECT_EQ(got[0], referenceSlice(x, v, axis, start, end)) << "axis " << axis;
  }
}

// slice_grad is slice's gradient: for L(x) = sum(w * slice(x)), dL/dx = slice_grad(w) equals
// central differences; on rows, `rows` of dy land in the same rows of the result band.
TEST(AxisCopy, SliceGradFiniteDifferences) {
  const Shape x = {2, 5, 3, 2}, y = {2, 2, 3, 2};
  const IntAttrs attrs = {{"axis", {1}}, {"start", {2}}, {"end", {4}}};
  IntAttrs gradAttrs = attrs;
  gradAttrs.push_back({"input_shape", x});
  std::vector<float> v = randomFloats(elementsOf(x), 7);
  const std::vector<float> w = randomFloats(elementsOf(y), 8);
  CpuBackend cpu;
  const std::vector<float> grad = runStep(cpu, "slice_grad", {whole(y, w)}, {result(x)}, gradAttrs)[0];
  const float eps = 1e-2f;
  for (size_t i = 0; i < v.size(); ++i) {
    const float keep = v[i];
    v[i] = keep + eps;
    const double up = dot(w, runStep(cpu, "slice", {whole(x, v)}, {result(y)}, attrs)[0]);
    v[i] = keep - eps;
    const double down = dot(w, runStep(cpu, "slice", {whole(x, v)}, {result(y)}, attrs)[0]);
    v[i] = keep;
    EXPECT_NEAR(grad[i], (up - down) / (2 * eps), 1e-4) << "element " << i;
  }
  IntAttrs rows = gradAttrs;
  rows.push_back({"rows", {1, 3}});
  const auto band0 = runStep(cpu, "slice_grad", {whole(y, w)}, {result(x, RowRange{1, 3})}, rows)[0];
  EXPECT_EQ(band0, cutRows(grad, x, {1, 3}));
}

// concat's gradient, as autodiff emits it: the slice of dy at each operand's offset.
TEST(AxisCopy, ConcatGradientIsSlicesOfDy) {
  const Shape a = {2, 2, 3, 2}, b = {2, 3, 3, 2}, y = {2, 5, 3, 2};
  std::vector<float> x0 = randomFloats(elementsOf(a), 9);
  const std::vector<float> x1 = randomFloats(elementsOf(b), 10), w = randomFloats(elementsOf(y), 11);
  CpuBackend cpu;
  const std::vector<float> grad =
      runStep(cpu, "slice", {whole(y, w)}, {result(a)}, {{"axis", {1}}, {"start", {0}}, {"end", {2}}})[0];
  const float eps = 1e-2f;
  for (size_t i = 0; i < x0.size(); ++i) {
    const float keep = x0[i];
    x0[i] = keep + eps;
    const double up = dot(w, runStep(cpu, "concat", {whole(a, x0), whole(b, x1)}, {result(y)}, {{"axis", {1}}})[0]);
    x0[i] = keep - eps;
    const double down = dot(w, runStep(cpu, "concat", {whole(a, x0), whole(b, x1)}, {result(y)}, {{"axis", {1}}})[0]);
    x0[i] = keep;
    EXPECT_NEAR(grad[i], (up - down) / (2 * eps), 1e-4) << "element " << i;
  }
}

// The plan loader: on row bands the axis is the channels; every operand band holds the
// result's rows.
TEST(AxisCopy, PlanChecksOnRows) {
  const Shape a = {2, 3, 6, 4};
  const std::vector<float> x = randomFloats(elementsOf(a), 12);
  const HandPlan rowsAxis =
      oneStepPlan("concat", {band(a, x, {0, 3}), band(a, x, {0, 3})}, {result({2, 3, 12, 4}, RowRange{0, 3})}, {{"axis", {2}}}, {});
  EXPECT_NE(rowsAxis.validationError().find("attribute 'axis' is 2; on row bands it must be 1 (channels)"),
            std::string::npos)
      << rowsAxis.validationError();
  const HandPlan shortBand =
      oneStepPlan("concat", {band(a, x, {0, 2}), whole(a, x)}, {result({2, 6, 6, 4}, RowRange{0, 3})}, {{"axis", {1}}}, {});
  EXPECT_NE(shortBand.validationError().find("holds rows [0, 2), the result rows [0, 3) read"), std::string::npos)
      << shortBand.validationError();
  const HandPlan sliceAxis = oneStepPlan("slice", {band(a, x, {0, 3})}, {result({2, 3, 6, 2}, RowRange{0, 3})},
                                         {{"axis", {3}}, {"start", {0}}, {"end", {2}}}, {});
  EXPECT_NE(sliceAxis.validationError().find("on row bands it must be 1"), std::string::npos) << sliceAxis.validationError();
}

}  // namespace
}  // namespace lrc::runtime::testing

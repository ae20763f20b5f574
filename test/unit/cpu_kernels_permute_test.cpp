// channel_shuffle and transpose on the CPU backend, in one-step plans: against index-by-index
// references (channel_shuffle as torch's reshape-transpose-reshape, on whole maps and on row
// bands; transpose for every permutation of a 4-D tensor and a 5-D one), and their gradients
// (the inverse shuffle and the inverse permutation, as autodiff emits them) against central
// finite differences of a weighted sum of the result.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "hand_plan.h"

namespace lrc::runtime::testing {
namespace {

using cpu::testing::randomFloats;

// y = x.view(N, g, C/g, H*W).transpose(1, 2).reshape(N, C, H, W), index by index.
std::vector<float> referenceShuffle(const Shape& s, const std::vector<float>& x, int64_t g) {
  const int64_t N = s[0], C = s[1], HW = s[2] * s[3], per = C / g;
  std::vector<float> y(x.size());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < g; ++i)
      for (int64_t j = 0; j < per; ++j)
        for (int64_t p = 0; p < HW; ++p)
          y[static_cast<size_t>((n * C + j * g + i) * HW + p)] = x[static_cast<size_t>((n * C + i * per + j) * HW + p)];
  return y;
}

// y[i_0, ..., i_{r-1}] = x[j] with j's axis perm[d] at i_d.
std::vector<float> referenceTranspose(const Shape& xs, const std::vector<float>& x, const std::vector<int64_t>& perm) {
  const size_t r = xs.size();
  Shape ys(r);
  for (size_t d = 0; d < r; ++d) ys[d] = xs[static_cast<size_t>(perm[d])];
  std::vector<float> y(x.size());
  for (int64_t k = 0; k < static_cast<int64_t>(y.size()); ++k) {
    std::vector<int64_t> xi(r);
    int64_t rest = k;
    for (size_t d = r; d-- > 0;) {
      xi[static_cast<size_t>(perm[d])] = rest % ys[d];
      rest /= ys[d];
    }
    int64_t j = 0;
    for (size_t d = 0; d < r; ++d) j = j * xs[d] + xi[d];
    y[static_cast<size_t>(k)] = x[static_cast<size_t>(j)];
  }
  return y;
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

// For L(x) = sum(w * f(x)), `grad` (the backward applied to w) equals central differences.
template <class Forward>
void expectFiniteDifferences(const std::vector<float>& grad, std::vector<float> x, const std::vector<float>& w,
                             const Forward& forward) {
  const float eps = 1e-2f;
  for (size_t i = 0; i < x.size(); ++i) {
    const float keep = x[i];
    x[i] = keep + eps;
    const double up = dot(w, forward(x));
    x[i] = keep - eps;
    const double down = dot(w, forward(x));
    x[i] = keep;
    EXPECT_NEAR(grad[i], (up - down) / (2 * eps), 1e-4) << "element " << i;
  }
}

TEST(ChannelShuffle, MatchesReference) {
  const Shape s = {2, 12, 3, 2};
  const std::vector<float> x = randomFloats(elementsOf(s), 1);
  for (int64_t g : {1, 2, 3, 4, 12}) {
    CpuBackend cpu;
    EXPECT_EQ(runStep(cpu, "channel_shuffle", {whole(s, x)}, {result(s)}, {{"groups", {g}}})[0], referenceShuffle(s, x, g))
        << "groups " << g;
  }
}

// On rows: the result band's rows of an operand band that holds more.
TEST(ChannelShuffle, OnRows) {
  const Shape s = {2, 6, 6, 3};
  const std::vector<float> x = randomFloats(elementsOf(s), 2);
  const std::vector<float> want = referenceShuffle(s, x, 2);
  for (RowRange r : raggedStrips(6)) {
    CpuBackend cpu;
    const auto got = runStep(cpu, "channel_shuffle", {band(s, x, widened(r, 1, 6))}, {result(s, r)}, {{"groups", {2}}});
    EXPECT_EQ(got[0], cutRows(want, s, r)) << "rows " << r.begin << ".." << r.end;
  }
}

// The gradient autodiff emits: the shuffle with C/g groups.
TEST(ChannelShuffle, GradientIsInverseShuffle) {
  const Shape s = {2, 6, 2, 2};
  const std::vector<float> x = randomFloats(elementsOf(s), 3), w = randomFloats(elementsOf(s), 4);
  CpuBackend cpu;
  const std::vector<float> grad = runStep(cpu, "channel_shuffle", {whole(s, w)}, {result(s)}, {{"groups", {3}}})[0];
  expectFiniteDifferences(grad, x, w, [&](const std::vector<float>& v) {
    return runStep(cpu, "channel_shuffle", {whole(s, v)}, {result(s)}, {{"groups", {2}}})[0];
  });
}

TEST(Transpose, EveryPermutationMatchesReference) {
  const Shape xs = {2, 3, 4, 5};
  const std::vector<float> x = randomFloats(elementsOf(xs), 5);
  std::vector<int64_t> perm = {0, 1, 2, 3};
  do {
    Shape ys;
    for (int64_t d : perm) ys.push_back(xs[static_cast<size_t>(d)]);
    CpuBackend cpu;
    EXPECT_EQ(runStep(cpu, "transpose", {whole(xs, x)}, {result(ys)}, {{"perm", perm}})[0], referenceTranspose(xs, x, perm))
        << "perm " << perm[0] << perm[1] << perm[2] << perm[3];
  } while (std::next_permutation(perm.begin(), perm.end()));
  // ShuffleNet's 5-D transpose, and one with axes of extent 1.
  const Shape fs = {2, 2, 3, 1, 4};
  const std::vector<float> f = randomFloats(elementsOf(fs), 6);
  CpuBackend cpu;
  EXPECT_EQ(runStep(cpu, "transpose", {whole(fs, f)}, {result({2, 3, 2, 1, 4})}, {{"perm", {0, 2, 1, 3, 4}}})[0],
            referenceTranspose(fs, f, {0, 2, 1, 3, 4}));
  EXPECT_EQ(runStep(cpu, "transpose", {whole(fs, f)}, {result({4, 1, 3, 2, 2})}, {{"perm", {4, 3, 2, 1, 0}}})[0],
            referenceTranspose(fs, f, {4, 3, 2, 1, 0}));
}

// The gradient autodiff emits: the transpose by the inverse permutation (channels last and back).
TEST(Transpose, GradientIsInversePermutation) {
  const Shape xs = {2, 3, 2, 4}, ys = {2, 2, 4, 3};
  const std::vector<float> x = randomFloats(elementsOf(xs), 7), w = randomFloats(elementsOf(ys), 8);
  CpuBackend cpu;
  const std::vector<float> grad = runStep(cpu, "transpose", {whole(ys, w)}, {result(xs)}, {{"perm", {0, 3, 1, 2}}})[0];
  expectFiniteDifferences(grad, x, w, [&](const std::vector<float>& v) {
    return runStep(cpu, "transpose", {whole(xs, v)}, {result(ys)}, {{"perm", {0, 2, 3, 1}}})[0];
  });
}

// The plan loader: a transpose's perm must permute its operand's axes into its result's shape.
TEST(Transpose, PlanChecks) {
  const Shape xs = {2, 3, 4, 5};
  const std::vector<float> x = randomFloats(elementsOf(xs), 9);
  const HandPlan repeated = oneStepPlan("transpose", {whole(xs, x)}, {result({2, 3, 3, 5})}, {{"perm", {0, 1, 1, 3}}}, {});
  EXPECT_NE(repeated.validationError().find("is not a permutation"), std::string::npos) << repeated.validationError();
  const HandPlan shuffle = oneStepPlan("channel_shuffle", {whole(xs, x)}, {result(xs)}, {{"groups", {2}}}, {});
  EXPECT_NE(shuffle.validationError().find("not a multiple of groups=2"), std::string::npos) << shuffle.validationError();
}

}  // namespace
}  // namespace lrc::runtime::testing

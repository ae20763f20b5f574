// Helpers shared by the CPU kernel tests (cpu_kernels_*_test.cpp): random data, error norms,
// central differences, and bands holding a subset of a map's rows.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include "runtime/cpu/RowBand.h"

namespace lrc::cpu::testing {

inline std::vector<float> randomFloats(int64_t count, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(count);
  for (float& x : v) x = dist(gen);
  return v;
}

// Distinct values in random order, spaced `gap` apart: no ties, and a perturbation smaller than
// gap / 2 never changes which element of a window is largest.
inline std::vector<float> distinctFloats(int64_t count, uint32_t seed, float gap = 0.01f) {
  std::vector<float> v(count);
  for (int64_t i = 0; i < count; ++i) v[i] = (static_cast<float>(i) - static_cast<float>(count) / 2) * gap;
  std::shuffle(v.begin(), v.end(), std::mt19937(seed));
  return v;
}

inline std::vector<double> toDouble(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// max |got - want| / max(max |want|, 1e-12): the error relative to the result's scale.
template <class A, class B>
double normalizedError(const std::vector<A>& got, const std::vector<B>& want) {
  if (got.size() != want.size()) return INFINITY;
  double scale = 1e-12, err = 0.0;
  for (size_t i = 0; i < got.size(); ++i) {
    scale = std::max(scale, std::abs(static_cast<double>(want[i])));
    const double d = std::abs(static_cast<double>(got[i]) - static_cast<double>(want[i]));
    err = std::isnan(d) ? INFINITY : std::max(err, d);
  }
  return err / scale;
}

// Central differences of loss() with respect to every element of x (x is restored).
inline std::vector<double> numericGradient(std::vector<double>& x, const std::function<double()>& loss,
                                           double eps = 1e-3) {
  std::vector<double> g(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + eps;
    const double up = loss();
    x[i] = saved - eps;
    const double down = loss();
    x[i] = saved;
    g[i] = (up - down) / (2 * eps);
  }
  return g;
}

inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0.0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// One window axis, positionally: kernel, stride, pad before, pad after, dilation.
inline WindowAxis axis(int64_t kernel, int64_t stride = 1, int64_t padBegin = 0, int64_t padEnd = 0,
                       int64_t dilation = 1) {
  return {kernel, stride, padBegin, padEnd, dilation};
}

// A band that owns its storage: rows r of an N x C x H x W map.
struct OwnedBand {
  std::vector<float> storage;
  RowBand band;

  OwnedBand(int64_t N, int64_t C, int64_t H, int64_t W, RowRange r, float fill = 0.0f)
      : storage(static_cast<size_t>(N * C * r.size() * W), fill), band{storage.data(), N, C, H, W, r.begin, r.size()} {}
  // Moving keeps the vector's buffer, so `band` stays valid; a copy would not.
  OwnedBand(OwnedBand&&) = default;
  OwnedBand(const OwnedBand&) = delete;
  OwnedBand& operator=(const OwnedBand&) = delete;
};

// The rows r of the full map `full`, copied into a band of just those rows.
inline OwnedBand sliceRows(const std::vector<float>& full, int64_t N, int64_t C, int64_t H, int64_t W, RowRange r) {
  OwnedBand owned(N, C, H, W, r);
  copy_rows(owned.band, full_band(full.data(), N, C, H, W), r.begin, r.end);
  return owned;
}

// [0, size) cut into `pieces` consecutive ranges of nearly equal size (some may be empty).
inline std::vector<RowRange> splitRows(int64_t size, int64_t pieces) {
  std::vector<RowRange> ranges;
  for (int64_t i = 0; i < pieces; ++i) ranges.push_back({size * i / pieces, size * (i + 1) / pieces});
  return ranges;
}

}  // namespace lrc::cpu::testing

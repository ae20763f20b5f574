// Layer normalization (ONNX LayerNormalization, torch's F.layer_norm), once for both backends:
// x is `rows` groups of `size` contiguous values (the axes from `axis` on), each normalized by its
// own mean and biased variance, then scaled and shifted per element of the group:
//   y = (x - mean) * invstd * scale + bias,   invstd = 1 / sqrt(var + epsilon)
// The gradient recomputes the statistics from x (nothing is saved between the passes):
//   dx = invstd * (g - mean(g) - xhat * mean(g * xhat)),  g = dy * scale, xhat = (x - mean) * invstd
//   dscale = sum over rows of dy * xhat,  dbias = sum over rows of dy
// Each functor is one thread's work (a row; a column for the parameter sums), in double and in
// a fixed order, so every device gives the same bits. The CPU runs them in a loop
// (runtime/cpu/CpuBackend.cpp), the CUDA backend with its device's forEach
// (runtime/cuda/DeviceBackend.h); `stats` is the backend's workspace of 2 * rows doubles.
#pragma once

#include <cmath>
#include <cstdint>

#include "runtime/kernels/Portable.h"

namespace lrc::kernels {

struct LayerNormParams {
  int64_t rows = 0, size = 0;  // the groups, and the values in each (the axes from `axis` on)
  float epsilon = 0.0f;
};

// Row r's mean and invstd, into stats[2r], stats[2r + 1].
struct LayerNormStats {
  double* stats;
  const float* x;
  int64_t size;
  float epsilon;
  LRC_HD void operator()(int64_t r) const {
    const float* xs = x + r * size;
    double sum = 0.0;
    for (int64_t i = 0; i < size; ++i) sum += xs[i];
    const double mean = sum / static_cast<double>(size);
    double sq = 0.0;
    for (int64_t i = 0; i < size; ++i) sq += (xs[i] - mean) * (xs[i] - mean);
    stats[2 * r] = mean;
    stats[2 * r + 1] = 1.0 / sqrt(sq / static_cast<double>(size) + static_cast<double>(epsilon));
  }
};

// Element k of row r normalized: (x - mean) * invstd.
LRC_HD inline double layerNormXhat(const float* x, const double* stats, int64_t r, int64_t k) {
  return (x[k] - stats[2 * r]) * stats[2 * r + 1];
}

// y of row r; bias may be null (none).
struct LayerNormForward {
  float* y;
  const float* x;
  const float* scale;
  const float* bias;
  const double* stats;
  int64_t size;
  LRC_HD void operator()(int64_t r) const {
    for (int64_t i = 0; i < size; ++i)
      y[r * size + i] = static_cast<float>(layerNormXhat(x, stats, r, r * size + i) * scale[i] + (bias ? bias[i] : 0.0f));
  }
};

// dx of row r.
struct LayerNormBackwardInput {
  float* dx;
  const float* dy;
  const float* x;
  const float* scale;
  const double* stats;
  int64_t size;
  LRC_HD void operator()(int64_t r) const {
    const float* dys = dy + r * size;
    double sumG = 0.0, sumGX = 0.0;
    for (int64_t i = 0; i < size; ++i) {
      const double g = static_cast<double>(dys[i]) * scale[i];
      sumG += g;
      sumGX += g * layerNormXhat(x, stats, r, r * size + i);
    }
    const double n = static_cast<double>(size), invstd = stats[2 * r + 1];
    for (int64_t i = 0; i < size; ++i)
      dx[r * size + i] = static_cast<float>(
          invstd * (static_cast<double>(dys[i]) * scale[i] - sumG / n - layerNormXhat(x, stats, r, r * size + i) * sumGX / n));
  }
};

// dscale[i] and dbias[i]: sums over the rows, in row order.
struct LayerNormBackwardParams {
  float* dscale;
  float* dbias;
  const float* dy;
  const float* x;
  const double* stats;
  int64_t rows, size;
  LRC_HD void operator()(int64_t i) const {
    double ds = 0.0, db = 0.0;
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t k = r * size + i;
      ds += static_cast<double>(dy[k]) * layerNormXhat(x, stats, r, k);
      db += dy[k];
    }
    dscale[i] = static_cast<float>(ds);
    dbias[i] = static_cast<float>(db);
  }
};

// The passes of a forward and a backward step, run with `forEach(n, f)` (f(i) for i < n: the
// backend's loop or its device's kernel launch); bias may be null.
template <class ForEach>
void layer_norm_forward(const ForEach& forEach, float* y, const float* x, const float* scale, const float* bias,
                        double* stats, const LayerNormParams& p) {
  forEach(p.rows, LayerNormStats{stats, x, p.size, p.epsilon});
  forEach(p.rows, LayerNormForward{y, x, scale, bias, stats, p.size});
}

template <class ForEach>
void layer_norm_backward(const ForEach& forEach, float* dx, float* dscale, float* dbias, const float* dy,
                         const float* x, const float* scale, double* stats, const LayerNormParams& p) {
  forEach(p.rows, LayerNormStats{stats, x, p.size, p.epsilon});
  forEach(p.rows, LayerNormBackwardInput{dx, dy, x, scale, stats, p.size});
  forEach(p.size, LayerNormBackwardParams{dscale, dbias, dy, x, stats, p.rows, p.size});
}

}  // namespace lrc::kernels

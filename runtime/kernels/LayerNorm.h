// Layer normalization (ONNX LayerNormalization, torch's F.layer_norm), once for both backends:
// x is `rows` groups of `size` values, each normalized by its own mean and biased variance,
// then scaled and shifted per element of the group:
//   y = (x - mean) * invstd * scale + bias,   invstd = 1 / sqrt(var + epsilon)
// A group is either `size` contiguous values (the axes from `axis` on: inner = 1) or, for
// layer_norm over the channel axis only (`axis=1, end=2` on an N x C x H x W map, made by
// canonicalize from a channels-last round trip), the C values of one pixel, H*W apart: then
// the groups are the pixels of some rows of the map, and x, y, dy and dx may be row bands
// (runtime/kernels/RowBand.h) holding those rows, each with its own row offset.
// The gradient recomputes the statistics from x (nothing is saved between the passes):
//   dx = invstd * (g - mean(g) - xhat * mean(g * xhat)),  g = dy * scale, xhat = (x - mean) * invstd
//   dscale = sum over groups of dy * xhat,  dbias = sum over groups of dy
// Each functor is one thread's work (a group; a column for the parameter sums), in double and
// in a fixed order, so every device gives the same bits. The CPU runs them in a loop
// (runtime/cpu/CpuBackend.cpp), the CUDA backend with its device's forEach
// (runtime/cuda/DeviceBackend.h); `stats` is the backend's workspace of 2 * rows doubles.
#pragma once

#include <cmath>
#include <cstdint>

#include "runtime/kernels/Portable.h"
#include "runtime/kernels/RowBand.h"

namespace lrc::kernels {

struct LayerNormParams {
  int64_t rows = 0, size = 0;  // the groups, and the values in each
  float epsilon = 0.0f;
  int64_t inner = 1;       // groups per block of `size` planes: group r is block r / inner, place r % inner
  bool channels = false;   // over the channel axis of a map (axis=1, end=2): the layout comes from the bands
};

// One tensor as groups: value k of group r at data[(r / inner * size + k) * plane + offset + r % inner]
// (contiguous groups: plane 1, offset 0; a band of a map: plane = its rows * W, offset = the
// first computed row's place in it).
template <class T>
struct LayerNormTensor {
  T* data = nullptr;
  int64_t plane = 1, offset = 0;
  LRC_HD T& at(const LayerNormParams& p, int64_t r, int64_t k) const {
    return data[(r / p.inner * p.size + k) * plane + offset + r % p.inner];
  }
};

// Over the channel axis: the groups of rows [rows.begin, rows.end) of a map of N images, C
// channels and width W, and the view of a band holding those rows.
inline LayerNormParams channelGroups(LayerNormParams p, int64_t N, int64_t C, int64_t W, RowRange rows) {
  p.size = C;
  p.inner = rows.size() * W;
  p.rows = N * p.inner;
  return p;
}
template <class T>
LayerNormTensor<T> channelView(const BasicRowBand<T>& band, int64_t firstRow) {
  return {band.data, band.rows * band.W, (firstRow - band.row0) * band.W};
}

// Group r's mean and invstd, into stats[2r], stats[2r + 1].
struct LayerNormStats {
  double* stats;
  LayerNormTensor<const float> x;
  LayerNormParams p;
  LRC_HD void operator()(int64_t r) const {
    double sum = 0.0;
    for (int64_t i = 0; i < p.size; ++i) sum += x.at(p, r, i);
    const double mean = sum / static_cast<double>(p.size);
    double sq = 0.0;
    for (int64_t i = 0; i < p.size; ++i) sq += (x.at(p, r, i) - mean) * (x.at(p, r, i) - mean);
    stats[2 * r] = mean;
    stats[2 * r + 1] = 1.0 / sqrt(sq / static_cast<double>(p.size) + static_cast<double>(p.epsilon));
  }
};

// Value k of group r normalized: (x - mean) * invstd.
LRC_HD inline double layerNormXhat(const LayerNormTensor<const float>& x, const LayerNormParams& p,
                                   const double* stats, int64_t r, int64_t k) {
  return (x.at(p, r, k) - stats[2 * r]) * stats[2 * r + 1];
}

// y of group r; bias may be null (none).
struct LayerNormForward {
  LayerNormTensor<float> y;
  LayerNormTensor<const float> x;
  const float* scale;
  const float* bias;
  const double* stats;
  LayerNormParams p;
  LRC_HD void operator()(int64_t r) const {
    for (int64_t i = 0; i < p.size; ++i)
      y.at(p, r, i) = static_cast<float>(layerNormXhat(x, p, stats, r, i) * scale[i] + (bias ? bias[i] : 0.0f));
  }
};

// dx of group r.
struct LayerNormBackwardInput {
  LayerNormTensor<float> dx;
  LayerNormTensor<const float> dy, x;
  const float* scale;
  const double* stats;
  LayerNormParams p;
  LRC_HD void operator()(int64_t r) const {
    double sumG = 0.0, sumGX = 0.0;
    for (int64_t i = 0; i < p.size; ++i) {
      const double g = static_cast<double>(dy.at(p, r, i)) * scale[i];
      sumG += g;
      sumGX += g * layerNormXhat(x, p, stats, r, i);
    }
    const double n = static_cast<double>(p.size), invstd = stats[2 * r + 1];
    for (int64_t i = 0; i < p.size; ++i)
      dx.at(p, r, i) = static_cast<float>(invstd * (static_cast<double>(dy.at(p, r, i)) * scale[i] - sumG / n -
                                                    layerNormXhat(x, p, stats, r, i) * sumGX / n));
  }
};

// dscale[i] and dbias[i]: sums over the groups, in group order.
struct LayerNormBackwardParams {
  float* dscale;
  float* dbias;
  LayerNormTensor<const float> dy, x;
  const double* stats;
  LayerNormParams p;
  LRC_HD void operator()(int64_t i) const {
    double ds = 0.0, db = 0.0;
    for (int64_t r = 0; r < p.rows; ++r) {
      const double d = dy.at(p, r, i);
      ds += d * layerNormXhat(x, p, stats, r, i);
      db += d;
    }
    dscale[i] = static_cast<float>(ds);
    dbias[i] = static_cast<float>(db);
  }
};

// The passes of a forward and a backward step, run with `forEach(n, f)` (f(i) for i < n: the
// backend's loop or its device's kernel launch); bias may be null.
template <class ForEach>
void layer_norm_forward(const ForEach& forEach, LayerNormTensor<float> y, LayerNormTensor<const float> x,
                        const float* scale, const float* bias, double* stats, const LayerNormParams& p) {
  forEach(p.rows, LayerNormStats{stats, x, p});
  forEach(p.rows, LayerNormForward{y, x, scale, bias, stats, p});
}

template <class ForEach>
void layer_norm_backward(const ForEach& forEach, LayerNormTensor<float> dx, float* dscale, float* dbias,
                         LayerNormTensor<const float> dy, LayerNormTensor<const float> x, const float* scale,
                         double* stats, const LayerNormParams& p) {
  forEach(p.rows, LayerNormStats{stats, x, p});
  forEach(p.rows, LayerNormBackwardInput{dx, dy, x, scale, stats, p});
  forEach(p.size, LayerNormBackwardParams{dscale, dbias, dy, x, stats, p});
}

}  // namespace lrc::kernels

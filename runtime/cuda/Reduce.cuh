// Per-channel sums over an N x C x rows x W band (BatchNorm's statistics, bias gradients) in
// two deterministic passes and double precision: one thread per (channel, image) sums its
// rows, then one thread per channel sums the images in order and hands the K totals to
// `finish`. No atomics: the same data always gives the same bits.
#pragma once

#include <cstdint>

#include "runtime/cuda/Device.h"

namespace lrc::cuda {

template <int K, class Value>
struct ChannelPartials {
  double* partial;  // [C][N][K]
  int64_t N, a, b, W;
  Value value;  // value(n, c, h, w, acc): adds its K terms of element (n, c, h, w) to acc
  LRC_HD void operator()(int64_t i) const {
    const int64_t c = i / N, n = i % N;
    double acc[K] = {};
    for (int64_t h = a; h < b; ++h)
      for (int64_t w = 0; w < W; ++w) value(n, c, h, w, acc);
    for (int k = 0; k < K; ++k) partial[i * K + k] = acc[k];
  }
};

template <int K, class Finish>
struct ChannelTotals {
  const double* partial;
  int64_t N;
  Finish finish;  // finish(c, totals): the K sums of channel c
  LRC_HD void operator()(int64_t c) const {
    double total[K] = {};
    for (int64_t n = 0; n < N; ++n)
      for (int k = 0; k < K; ++k) total[k] += partial[(c * N + n) * K + k];
    finish(c, total);
  }
};

// `partial` holds N * C * K doubles.
template <int K, class D, class Value, class Finish>
void channel_sums(D& dev, int64_t N, int64_t C, int64_t a, int64_t b, int64_t W, const Value& value, double* partial,
                  const Finish& finish) {
  dev.forEach(N * C, ChannelPartials<K, Value>{partial, N, a, b, W, value});
  dev.forEach(C, ChannelTotals<K, Finish>{partial, N, finish});
}

// The element itself, as one term.
struct ValueOf {
  Band<const float> x;
  LRC_HD void operator()(int64_t n, int64_t c, int64_t h, int64_t w, double* acc) const { acc[0] += x.at(n, c, h, w); }
};

// out[c] += the channel's one total, rounded to float.
struct AddToFloat {
  float* out;
  LRC_HD void operator()(int64_t c, const double* total) const { out[c] += static_cast<float>(total[0]); }
};

}  // namespace lrc::cuda

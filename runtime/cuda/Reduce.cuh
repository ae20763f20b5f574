// Per-channel sums over an N x C x rows x W band (BatchNorm's statistics, bias gradients) in
// two deterministic passes and double precision: a segment reduction per (channel, image)
// (one block each on the GPU), then one thread per channel sums the images in order and
// hands the K totals to `finish`. No atomics: the same data always gives the same bits.
#pragma once

#include <cstdint>

#include "runtime/cuda/Device.h"

namespace lrc::cuda {

// Element i of the (channel, image) segment c * N + n: row a + i / W, column i % W.
template <class Value>
struct ChannelElement {
  int64_t N, a, W;
  Value value;  // value(n, c, h, w, acc): adds its K terms of element (n, c, h, w) to acc
  LRC_HD void operator()(int64_t segment, int64_t i, double* acc) const {
    value(segment % N, segment / N, a + i / W, i % W, acc);
  }
};

template <int K>
struct StorePartial {
  double* partial;  // [C][N][K]
  LRC_HD void operator()(int64_t segment, const double* total) const {
    for (int k = 0; k < K; ++k) partial[segment * K + k] = total[k];
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
  dev.template segmentReduce<K>(N * C, (b - a) * W, ChannelElement<Value>{N, a, W, value}, StorePartial<K>{partial});
  dev.forEach(C, ChannelTotals<K, Finish>{partial, N, finish});
}

// The element itself, as one term.
struct ValueOf {
  kernels::ConstRowBand x;
  LRC_HD void operator()(int64_t n, int64_t c, int64_t h, int64_t w, double* acc) const { acc[0] += x.at(n, c, h, w); }
};

// out[c] += the channel's one total, rounded to float.
struct AddToFloat {
  float* out;
  LRC_HD void operator()(int64_t c, const double* total) const { out[c] += static_cast<float>(total[0]); }
};

}  // namespace lrc::cuda

#include "runtime/cpu/Elementwise.h"

#include <stdexcept>
#include <string>

#include "runtime/kernels/Dropout.h"

namespace lrc::cpu {

namespace {

void checkRatio(const char* kernel, float ratio) {
  if (!(ratio >= 0.0f && ratio <= 1.0f))
    throw std::invalid_argument(std::string(kernel) + ": ratio must be in [0, 1], got " + std::to_string(ratio));
}

// out[i] (=, or += when Accumulate) in[i] * mask(firstIndex + i) * scale.
template <bool Accumulate>
void applyDropout(float* out, const float* in, int64_t count, int64_t firstIndex, float ratio, uint64_t seed,
                  uint64_t step) {
  const uint64_t threshold = kernels::dropout_keep_threshold(ratio);
  const float scale = kernels::dropout_keep_scale(ratio);
  parallel_for(count, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const bool keep = kernels::dropout_hash(seed, step, static_cast<uint64_t>(firstIndex + i)) < threshold;
      const float v = keep ? in[i] * scale : 0.0f;
      if constexpr (Accumulate)
        out[i] += v;
      else
        out[i] = v;
    }
  });
}

// Calls f(n, c, count) for each image and channel (in parallel); rows [a, b) of one (n, c)
// are `count` contiguous floats in every band (band.row(n, c, a)).
template <class F>
void forEachPlane(ConstRowBand band, int64_t a, int64_t b, F f) {
  parallel_planes(band.N, band.C, (b - a) * band.W, [&](int64_t n, int64_t c) { f(n, c, (b - a) * band.W); });
}

template <bool Accumulate>
void applyDropoutRows(const char* kernel, RowBand out, ConstRowBand in, float ratio, uint64_t seed, uint64_t step,
                      int64_t a, int64_t b) {
  checkRatio(kernel, ratio);
  check_rows_of_one_map(kernel, {{"output", out}, {"input", in}}, a, b);
  forEachPlane(in, a, b, [&](int64_t n, int64_t c, int64_t count) {
    applyDropout<Accumulate>(out.row(n, c, a), in.row(n, c, a), count, ((n * in.C + c) * in.H + a) * in.W, ratio, seed,
                             step);
  });
}

}  // namespace

void accumulate(float* dst, const float* src, int64_t count) {
  parallel_for(count, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) dst[i] += src[i];
  });
}

void dropout_forward(float* y, const float* x, int64_t count, int64_t firstIndex, float ratio, uint64_t seed,
                     uint64_t step) {
  checkRatio("dropout_forward", ratio);
  applyDropout<false>(y, x, count, firstIndex, ratio, seed, step);
}

void dropout_backward(float* dx, const float* dy, int64_t count, int64_t firstIndex, float ratio, uint64_t seed,
                      uint64_t step) {
  checkRatio("dropout_backward", ratio);
  applyDropout<true>(dx, dy, count, firstIndex, ratio, seed, step);
}

void dropout_rows_forward(RowBand y, ConstRowBand x, float ratio, uint64_t seed, uint64_t step, int64_t a, int64_t b) {
  applyDropoutRows<false>("dropout_rows_forward", y, x, ratio, seed, step, a, b);
}

void dropout_rows_backward(RowBand dx, ConstRowBand dy, float ratio, uint64_t seed, uint64_t step, int64_t a,
                           int64_t b) {
  applyDropoutRows<true>("dropout_rows_backward", dx, dy, ratio, seed, step, a, b);
}

}  // namespace lrc::cpu

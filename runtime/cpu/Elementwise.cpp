#include "runtime/cpu/Elementwise.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace lrc::cpu {

namespace {

void checkRatio(const char* kernel, float ratio) {
  if (!(ratio >= 0.0f && ratio <= 1.0f))
    throw std::invalid_argument(std::string(kernel) + ": ratio must be in [0, 1], got " + std::to_string(ratio));
}

float keepScale(float ratio) { return ratio < 1.0f ? 1.0f / (1.0f - ratio) : 0.0f; }

// out[i] (=, or += when Accumulate) in[i] * mask(firstIndex + i) * scale.
template <bool Accumulate>
void applyDropout(float* out, const float* in, int64_t count, int64_t firstIndex, float ratio, uint64_t seed,
                  uint64_t step) {
  const uint64_t threshold = dropout_keep_threshold(ratio);
  const float scale = keepScale(ratio);
  for (int64_t i = 0; i < count; ++i) {
    const bool keep = dropout_hash(seed, step, static_cast<uint64_t>(firstIndex + i)) < threshold;
    const float v = keep ? in[i] * scale : 0.0f;
    if constexpr (Accumulate)
      out[i] += v;
    else
      out[i] = v;
  }
}

template <bool Accumulate>
void applyDropoutRows(const char* kernel, RowBand out, ConstRowBand in, float ratio, uint64_t seed, uint64_t step,
                      int64_t a, int64_t b) {
  checkRatio(kernel, ratio);
  check_band(kernel, "output", out);
  check_band(kernel, "input", in);
  if (out.N != in.N || out.C != in.C || out.H != in.H || out.W != in.W)
    throw std::invalid_argument(std::string(kernel) + ": output and input bands are of different maps");
  check_output_rows(kernel, "output", out, a, b);
  check_output_rows(kernel, "input", in, a, b);
  for (int64_t n = 0; n < in.N; ++n)
    for (int64_t c = 0; c < in.C; ++c)
      applyDropout<Accumulate>(out.row(n, c, a), in.row(n, c, a), (b - a) * in.W, ((n * in.C + c) * in.H + a) * in.W,
                               ratio, seed, step);
}

}  // namespace

void relu_forward(float* y, const float* x, int64_t count) {
  for (int64_t i = 0; i < count; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void relu_backward(float* dx, const float* dy, const float* xOrY, int64_t count) {
  for (int64_t i = 0; i < count; ++i)
    if (xOrY[i] > 0.0f) dx[i] += dy[i];
}

void add_forward(float* y, const float* x0, const float* x1, int64_t count) {
  for (int64_t i = 0; i < count; ++i) y[i] = x0[i] + x1[i];
}

void add_backward(float* dx0, float* dx1, const float* dy, int64_t count) {
  if (dx0 != nullptr) accumulate(dx0, dy, count);
  if (dx1 != nullptr) accumulate(dx1, dy, count);
}

void accumulate(float* dst, const float* src, int64_t count) {
  for (int64_t i = 0; i < count; ++i) dst[i] += src[i];
}

uint64_t dropout_keep_threshold(float ratio) {
  return static_cast<uint64_t>(std::llround((1.0 - static_cast<double>(ratio)) * 4294967296.0));
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

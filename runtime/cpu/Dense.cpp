#include "runtime/cpu/Dense.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "runtime/cpu/Blas.h"

namespace lrc::cpu {

namespace {

[[noreturn]] void fail(const char* kernel, const std::string& message) {
  throw std::invalid_argument(std::string(kernel) + ": " + message);
}

void checkGemm(const char* kernel, const GemmParams& p) {
  if (p.M < 0 || p.N < 0 || p.K < 0) fail(kernel, "negative size");
}

// Row strides of A and B as stored.
int64_t strideA(const GemmParams& p) { return p.transA ? p.M : p.K; }
int64_t strideB(const GemmParams& p) { return p.transB ? p.K : p.N; }

void checkLabel(const char* kernel, int64_t label, int64_t n, int64_t classes) {
  if (label < 0 || label >= classes)
    fail(kernel, "label " + std::to_string(label) + " of sample " + std::to_string(n) + " is outside [0, " +
                     std::to_string(classes) + ")");
}

}  // namespace

void gemm_forward(float* Y, const float* A, const float* B, const float* C, const GemmParams& p) {
  checkGemm("gemm_forward", p);
  const bool withBias = p.bias != GemmBias::None && p.beta != 0.0f;
  if (withBias) {
    if (C == nullptr) fail("gemm_forward", "C is null but a bias shape was given");
    for (int64_t i = 0; i < p.M; ++i)
      for (int64_t j = 0; j < p.N; ++j) Y[i * p.N + j] = p.beta * C[kernels::gemm_bias_index(p.bias, p.N, i, j)];
  }
  sgemm(p.transA, p.transB, p.M, p.N, p.K, p.alpha, A, strideA(p), B, strideB(p), withBias || p.accumulate ? 1.0f : 0.0f,
        Y, p.N);
}

void gemm_backward(float* dA, float* dB, float* dC, const float* dY, const float* A, const float* B,
                   const GemmParams& p) {
  checkGemm("gemm_backward", p);
  if (dA != nullptr) {
    if (!p.transA)  // dA (M x K) += alpha * dY * op(B)^T
      sgemm(false, !p.transB, p.M, p.K, p.N, p.alpha, dY, p.N, B, strideB(p), 1.0f, dA, p.K);
    else  // dA (K x M) += alpha * op(B) * dY^T
      sgemm(p.transB, true, p.K, p.M, p.N, p.alpha, B, strideB(p), dY, p.N, 1.0f, dA, p.M);
  }
  if (dB != nullptr) {
    if (!p.transB)  // dB (K x N) += alpha * op(A)^T * dY
      sgemm(!p.transA, false, p.K, p.N, p.M, p.alpha, A, strideA(p), dY, p.N, 1.0f, dB, p.N);
    else  // dB (N x K) += alpha * dY^T * op(A)
      sgemm(true, p.transA, p.N, p.K, p.M, p.alpha, dY, p.N, A, strideA(p), 1.0f, dB, p.K);
  }
  if (dC != nullptr && p.bias != GemmBias::None)
    for (int64_t i = 0; i < p.M; ++i)
      for (int64_t j = 0; j < p.N; ++j) dC[kernels::gemm_bias_index(p.bias, p.N, i, j)] += p.beta * dY[i * p.N + j];
}

void softmax_forward(float* y, const float* x, int64_t N, int64_t classes) {
  for (int64_t n = 0; n < N; ++n) {
    const float* in = x + n * classes;
    float* out = y + n * classes;
    const double max = *std::max_element(in, in + classes);
    double sum = 0.0;
    for (int64_t j = 0; j < classes; ++j) sum += std::exp(in[j] - max);
    for (int64_t j = 0; j < classes; ++j) out[j] = static_cast<float>(std::exp(in[j] - max) / sum);
  }
}

float softmax_cross_entropy_forward(float* probs, const float* logits, const int64_t* labels, int64_t N,
                                    int64_t classes) {
  const char* kernel = "softmax_cross_entropy_forward";
  if (N < 1 || classes < 1) fail(kernel, "needs at least one sample and one class");
  double total = 0.0;
  for (int64_t n = 0; n < N; ++n) {
    checkLabel(kernel, labels[n], n, classes);
    const float* in = logits + n * classes;
    const double max = *std::max_element(in, in + classes);
    double sum = 0.0;
    for (int64_t j = 0; j < classes; ++j) sum += std::exp(in[j] - max);
    total += max + std::log(sum) - in[labels[n]];
  }
  if (probs != nullptr) softmax_forward(probs, logits, N, classes);
  return static_cast<float>(total / static_cast<double>(N));
}

namespace {

// Sums the rows' parts (runtime/kernels/PixelXent.h's order) and checks their labels.
kernels::PixelXentRow pixelXentTotal(const char* kernel, const float* logits, const int64_t* labels, int64_t N,
                                     int64_t classes, int64_t H, int64_t W, int64_t ignoreIndex, bool withLoss,
                                     kernels::PixelXentBand band) {
  if (band.row0 < 0 || band.bandRows < 1 || band.row0 + band.bandRows > H)
    fail(kernel, "band rows [" + std::to_string(band.row0) + ", " + std::to_string(band.row0 + band.bandRows) +
                     ") are outside the labels' " + std::to_string(H) + " rows");
  if (N < 1 || classes < 1 || H < 1 || W < 1) fail(kernel, "needs at least one sample, class and pixel");
  kernels::PixelXentRow total;
  for (int64_t row = 0; row < N * H; ++row) {
    const kernels::PixelXentRow r = kernels::pixel_xent_row(logits, labels, classes, H, W, row, ignoreIndex, withLoss, band);
    if (r.badColumn >= 0)
      fail(kernel, "label " + std::to_string(labels[row * W + r.badColumn]) + " of sample " + std::to_string(row / H) +
                       " (pixel " + std::to_string(row % H) + "," + std::to_string(r.badColumn) + ") is outside [0, " +
                       std::to_string(classes) + ") and is not the ignore index " + std::to_string(ignoreIndex));
    total.loss += r.loss;
    total.counted += r.counted;
  }
  return total;
}

}  // namespace

float pixel_xent_forward(const float* logits, const int64_t* labels, int64_t N, int64_t classes, int64_t H, int64_t W,
                         int64_t ignoreIndex, int64_t row0, int64_t bandRows) {
  const kernels::PixelXentBand band{row0, bandRows < 0 ? H : bandRows};
  const kernels::PixelXentRow t =
      pixelXentTotal("pixel_xent_forward", logits, labels, N, classes, H, W, ignoreIndex, true, band);
  return kernels::pixel_xent_mean(t.loss, t.counted);
}

void pixel_xent_backward(float* dLogits, const float* logits, const int64_t* labels, int64_t N, int64_t classes,
                         int64_t H, int64_t W, int64_t ignoreIndex, int64_t row0, int64_t bandRows) {
  const kernels::PixelXentBand band{row0, bandRows < 0 ? H : bandRows};
  const kernels::PixelXentRow t =
      pixelXentTotal("pixel_xent_backward", logits, labels, N, classes, H, W, ignoreIndex, false, band);
  const float scale = kernels::pixel_xent_scale(t.counted);
  for (int64_t pixel = 0; pixel < N * band.bandRows * W; ++pixel)
    kernels::pixel_xent_grad_at(dLogits, logits, labels, classes, H, W, band, pixel, ignoreIndex, scale);
}

void softmax_cross_entropy_backward(float* dLogits, const float* probs, const int64_t* labels, int64_t N,
                                    int64_t classes, float dLoss) {
  const char* kernel = "softmax_cross_entropy_backward";
  if (N < 1 || classes < 1) fail(kernel, "needs at least one sample and one class");
  const float scale = dLoss / static_cast<float>(N);
  for (int64_t n = 0; n < N; ++n) {
    checkLabel(kernel, labels[n], n, classes);
    for (int64_t j = 0; j < classes; ++j) {
      const float target = j == labels[n] ? 1.0f : 0.0f;
      dLogits[n * classes + j] = (probs[n * classes + j] - target) * scale;
    }
  }
}

}  // namespace lrc::cpu

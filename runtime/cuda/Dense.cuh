// Whole-tensor kernels of the CUDA backend that end row pipelines, as cpu/Dense.h: Gemm
// (cuBLAS, its C operand broadcast first), softmax over any axis, and the softmax
// cross-entropy loss and its gradient, per sample and per pixel (runtime/kernels/PixelXent.h).
// A label outside [0, classes) (and, per pixel, not the ignore index) cannot throw on the
// device: the kernel records it (XentStatus) and the backend reports it at synchronize().
#pragma once

#include <cmath>
#include <cstdint>

#include "runtime/kernels/Dense.h"
#include "runtime/kernels/PixelXent.h"
#include "runtime/cuda/Device.h"

namespace lrc::cuda {

// Where a loss kernel reports a bad label (device memory; badLabel != 0 means one was seen).
// The first reporter claims the record (atomically on the GPU), so the sample and the label
// reported belong together.
struct XentStatus {
  int64_t *badLabel, *sample, *label, *classes;
  LRC_HD void report(int64_t n, int64_t l, int64_t numClasses) const {
#if defined(__CUDA_ARCH__)
    if (atomicCAS(reinterpret_cast<unsigned long long*>(badLabel), 0ull, 1ull) != 0ull) return;
#else
    if (*badLabel != 0) return;
    *badLabel = 1;
#endif
    *sample = n;
    *label = l;
    *classes = numClasses;
  }
};

namespace dense_detail {

// Y[i][j] = beta * C[the element (i, j) reads] (kernels::gemm_bias_index, as on the CPU).
struct FillBias {
  float* Y;
  const float* C;
  int64_t N;
  kernels::GemmBias bias;
  float beta;
  LRC_HD void operator()(int64_t k) const { Y[k] = beta * C[kernels::gemm_bias_index(bias, N, k / N, k % N)]; }
};

// Softmax of one [classes] line at stride `inner`, in double (as the CPU backend).
struct Softmax {
  float* y;
  const float* x;
  int64_t classes, inner;
  LRC_HD void operator()(int64_t line) const {
    const int64_t o = line / inner, i = line % inner;
    const float* xs = x + o * classes * inner + i;
    float* ys = y + o * classes * inner + i;
    double max = xs[0];
    for (int64_t c = 1; c < classes; ++c) max = xs[c * inner] > max ? xs[c * inner] : max;
    double sum = 0.0;
    for (int64_t c = 0; c < classes; ++c) sum += exp(xs[c * inner] - max);
    for (int64_t c = 0; c < classes; ++c) ys[c * inner] = static_cast<float>(exp(xs[c * inner] - max) / sum);
  }
};

// Per sample: max + log(sum exp(x - max)) - x[label], in double.
struct XentTerms {
  double* terms;
  const float* logits;
  const int64_t* labels;
  int64_t classes;
  XentStatus status;
  LRC_HD void operator()(int64_t n) const {
    const int64_t label = labels[n];
    if (label < 0 || label >= classes) {
      status.report(n, label, classes);
      terms[n] = NAN;
      return;
    }
    const float* in = logits + n * classes;
    double max = in[0];
    for (int64_t j = 1; j < classes; ++j) max = in[j] > max ? in[j] : max;
    double sum = 0.0;
    for (int64_t j = 0; j < classes; ++j) sum += exp(in[j] - max);
    terms[n] = max + log(sum) - in[label];
  }
};

// The mean of the terms, in order (one thread).
struct XentMean {
  float* loss;
  const double* terms;
  int64_t N;
  LRC_HD void operator()(int64_t) const {
    double total = 0.0;
    for (int64_t n = 0; n < N; ++n) total += terms[n];
    *loss = static_cast<float>(total / static_cast<double>(N));
  }
};

// dLogits = (softmax - onehot(label)) / N, one thread per sample (in place is fine).
struct XentGrad {
  float* dLogits;
  const float* logits;
  const int64_t* labels;
  int64_t N, classes;
  XentStatus status;
  LRC_HD void operator()(int64_t n) const {
    const int64_t label = labels[n];
    if (label < 0 || label >= classes) status.report(n, label, classes);
    const float* in = logits + n * classes;
    float* out = dLogits + n * classes;
    double max = in[0];
    for (int64_t j = 1; j < classes; ++j) max = in[j] > max ? in[j] : max;
    double sum = 0.0;
    for (int64_t j = 0; j < classes; ++j) sum += exp(in[j] - max);
    const float scale = 1.0f / static_cast<float>(N);
    for (int64_t j = 0; j < classes; ++j) {
      const float p = static_cast<float>(exp(in[j] - max) / sum);
      out[j] = (p - (j == label ? 1.0f : 0.0f)) * scale;
    }
  }
};

// Per image row (n, h): its part of the loss in ws[row] and its count in ws[rows + row].
struct PixelXentRows {
  double* ws;
  const float* logits;
  const int64_t* labels;
  int64_t classes, H, W, ignoreIndex, rows;
  bool withLoss;
  XentStatus status;
  kernels::PixelXentBand band;
  LRC_HD void operator()(int64_t row) const {
    const kernels::PixelXentRow r =
        kernels::pixel_xent_row(logits, labels, classes, H, W, row, ignoreIndex, withLoss, band);
    if (r.badColumn >= 0) status.report(row / H, labels[row * W + r.badColumn], classes);
    ws[row] = r.loss;
    ws[rows + row] = static_cast<double>(r.counted);
  }
};

// One thread: the rows in order; the mean into *loss (when given), the count into ws[2 * rows].
struct PixelXentTotal {
  float* loss;
  double* ws;
  int64_t rows;
  LRC_HD void operator()(int64_t) const {
    double total = 0.0, counted = 0.0;
    for (int64_t r = 0; r < rows; ++r) {
      total += ws[r];
      counted += ws[rows + r];
    }
    if (loss != nullptr) *loss = kernels::pixel_xent_mean(total, static_cast<int64_t>(counted));
    ws[2 * rows] = counted;
  }
};

// The gradient, one thread per pixel, scaled by the count PixelXentTotal left.
struct PixelXentGrad {
  float* dLogits;
  const float* logits;
  const int64_t* labels;
  int64_t classes, H, W, ignoreIndex;
  kernels::PixelXentBand band;
  const double* counted;
  LRC_HD void operator()(int64_t pixel) const {
    kernels::pixel_xent_grad_at(dLogits, logits, labels, classes, H, W, band, pixel, ignoreIndex,
                                kernels::pixel_xent_scale(static_cast<int64_t>(*counted)));
  }
};

}  // namespace dense_detail

// Y = alpha * op(A) * op(B) + beta * C (ONNX Gemm; C broadcast as p.bias says).
template <class D>
void gemm_forward(D& dev, float* Y, const float* A, const float* B, const float* C, const kernels::GemmParams& p) {
  const bool withBias = p.bias != kernels::GemmBias::None && p.beta != 0.0f && C != nullptr;
  if (withBias) dev.forEach(p.M * p.N, dense_detail::FillBias{Y, C, p.N, p.bias, p.beta});
  if (p.K == 0 && !withBias) {
    if (!p.accumulate) dev.fill(Y, 0, static_cast<uint64_t>(p.M * p.N) * sizeof(float));
    return;
  }
  sgemm(dev, p.transA, p.transB, p.M, p.N, p.K, p.alpha, A, p.transA ? p.M : p.K, B, p.transB ? p.K : p.N,
        withBias || p.accumulate ? 1.0f : 0.0f, Y, p.N);
}

// Softmax over the middle axis of [outer][classes][inner].
template <class D>
void softmax_forward(D& dev, float* y, const float* x, int64_t outer, int64_t classes, int64_t inner) {
  dev.forEach(outer * inner, dense_detail::Softmax{y, x, classes, inner});
}

// loss = mean over the batch of -log softmax(logits)[label]; `terms` holds N doubles.
template <class D>
void softmax_xent_forward(D& dev, float* loss, const float* logits, const int64_t* labels, int64_t N, int64_t classes,
                          double* terms, const XentStatus& status) {
  dev.forEach(N, dense_detail::XentTerms{terms, logits, labels, classes, status});
  dev.forEach(1, dense_detail::XentMean{loss, terms, N});
}

// dLogits = (softmax(logits) - onehot(labels)) / N; dLogits may alias logits.
template <class D>
void softmax_xent_backward(D& dev, float* dLogits, const float* logits, const int64_t* labels, int64_t N,
                           int64_t classes, const XentStatus& status) {
  dev.forEach(N, dense_detail::XentGrad{dLogits, logits, labels, N, classes, status});
}

// The doubles the per-pixel loss needs of the workspace: two per image row and the count.
inline int64_t pixel_xent_workspace_doubles(int64_t N, int64_t H) { return 2 * N * H + 1; }

// The per-pixel loss (runtime/kernels/PixelXent.h) of logits [N,K,H,W] (or the band `band` of
// their rows) and labels [N,H,W]; `ws` holds pixel_xent_workspace_doubles.
template <class D>
void pixel_xent_forward(D& dev, float* loss, const float* logits, const int64_t* labels, int64_t N, int64_t classes,
                        int64_t H, int64_t W, int64_t ignoreIndex, double* ws, const XentStatus& status,
                        kernels::PixelXentBand band) {
  dev.forEach(N * H,
              dense_detail::PixelXentRows{ws, logits, labels, classes, H, W, ignoreIndex, N * H, true, status, band});
  dev.forEach(1, dense_detail::PixelXentTotal{loss, ws, N * H});
}

// Its gradient; dLogits may alias logits.
template <class D>
void pixel_xent_backward(D& dev, float* dLogits, const float* logits, const int64_t* labels, int64_t N, int64_t classes,
                         int64_t H, int64_t W, int64_t ignoreIndex, double* ws, const XentStatus& status,
                         kernels::PixelXentBand band) {
  dev.forEach(N * H,
              dense_detail::PixelXentRows{ws, logits, labels, classes, H, W, ignoreIndex, N * H, false, status, band});
  dev.forEach(1, dense_detail::PixelXentTotal{nullptr, ws, N * H});
  dev.forEach(N * band.bandRows * W,
              dense_detail::PixelXentGrad{dLogits, logits, labels, classes, H, W, ignoreIndex, band, ws + 2 * N * H});
}

}  // namespace lrc::cuda

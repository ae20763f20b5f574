// Whole-tensor kernels that end row pipelines: Gemm, softmax, softmax cross-entropy loss (per
// sample, and per pixel: runtime/kernels/PixelXent.h).
// (The optimizer updates: cpu/Optimizer.h.)
#pragma once

#include <cstdint>

#include "runtime/kernels/Dense.h"
#include "runtime/kernels/PixelXent.h"

namespace lrc::cpu {

// The shared parameters (runtime/kernels/Dense.h).
using kernels::GemmBias;
using kernels::GemmParams;

// Y = alpha * op(A) * op(B) + beta * C (ONNX Gemm, PyTorch Linear with transB).
void gemm_forward(float* Y, const float* A, const float* B, const float* C, const GemmParams& p);

// dA += alpha * dY * op(B)^T (as stored: transposed back when transA), dB += alpha *
// op(A)^T * dY (likewise), dC += beta * dY reduced to C's shape. Any of dA, dB, dC may be null.
void gemm_backward(float* dA, float* dB, float* dC, const float* dY, const float* A, const float* B,
                   const GemmParams& p);

// y[n][.] = softmax(x[n][.]) for N rows of `classes` logits; y may alias x.
void softmax_forward(float* y, const float* x, int64_t N, int64_t classes);

// Mean over the batch of -log softmax(logits)[label] (PyTorch's cross_entropy default),
// computed stably in double. Writes the probabilities to `probs` (N x classes) when non-null;
// probs may alias logits. Labels must lie in [0, classes): std::invalid_argument otherwise.
float softmax_cross_entropy_forward(float* probs, const float* logits, const int64_t* labels, int64_t N,
                                    int64_t classes);

// dLogits = dLoss * (probs - onehot(labels)) / N. This is where the gradient chain starts,
// so it writes rather than adds; dLogits may alias probs.
void softmax_cross_entropy_backward(float* dLogits, const float* probs, const int64_t* labels, int64_t N,
                                    int64_t classes, float dLoss = 1.0f);

// The per-pixel loss (runtime/kernels/PixelXent.h) of logits [N,K,H,W] and labels [N,H,W],
// and its gradient (dLogits may alias logits). A label that is neither ignoreIndex nor in
// [0, K): std::invalid_argument naming it, its sample and its pixel. On a row band (the loss in
// a row pipeline): logits (and dLogits) are rows [row0, row0 + bandRows) of the labels' H rows
// (bandRows -1: all H), the loss that band's share of the global mean (its terms / the count
// of every counted pixel), the gradient that band's rows.
float pixel_xent_forward(const float* logits, const int64_t* labels, int64_t N, int64_t classes, int64_t H, int64_t W,
                         int64_t ignoreIndex, int64_t row0 = 0, int64_t bandRows = -1);
void pixel_xent_backward(float* dLogits, const float* logits, const int64_t* labels, int64_t N, int64_t classes,
                         int64_t H, int64_t W, int64_t ignoreIndex, int64_t row0 = 0, int64_t bandRows = -1);

}  // namespace lrc::cpu

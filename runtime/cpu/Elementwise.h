// Element-wise kernels: ReLU, Add, Dropout. They map rows to the same rows, so callers pass
// band pointers and element counts; Dropout also takes the elements' global indices, which
// its mask depends on.
#pragma once

#include <cstdint>

#include "runtime/cpu/RowBand.h"

namespace lrc::cpu {

// y = max(x, 0). y may alias x.
void relu_forward(float* y, const float* x, int64_t count);

// dx += dy where xOrY > 0 (the ReLU's input or output; either gives the same mask).
// dx must not alias dy.
void relu_backward(float* dx, const float* dy, const float* xOrY, int64_t count);

// y = x0 + x1 (same shape). y may alias either input.
void add_forward(float* y, const float* x0, const float* x1, int64_t count);

// dx0 += dy and dx1 += dy; either may be null (an input that needs no gradient).
void add_backward(float* dx0, float* dx1, const float* dy, int64_t count);

// dst += src: the gradient of a value used more than once is the sum over its uses.
void accumulate(float* dst, const float* src, int64_t count);

// Row-band forms of ReLU and Add: rows [a, b) of the output band; the operands are bands of
// the same map that hold [a, b), possibly with more rows (each is indexed by global row).
void relu_rows_forward(RowBand y, ConstRowBand x, int64_t a, int64_t b);
// dx rows [a, b) += dy where xOrY > 0.
void relu_rows_backward(RowBand dx, ConstRowBand dy, ConstRowBand xOrY, int64_t a, int64_t b);
void add_rows_forward(RowBand y, ConstRowBand x0, ConstRowBand x1, int64_t a, int64_t b);

// Dropout's mask is kernels::dropout_hash's (runtime/kernels/Dropout.h), so that the CUDA
// backend reproduces it bit for bit and any sub-range of elements is recomputed identically.

// y[i] = x[i] * keep(firstIndex + i) / (1 - ratio) for i < count (0 where dropped; all 0 when
// ratio is 1), as PyTorch's training-mode dropout. y may alias x. 0 <= ratio <= 1.
void dropout_forward(float* y, const float* x, int64_t count, int64_t firstIndex, float ratio, uint64_t seed,
                     uint64_t step);

// dx[i] += dy[i] * keep(firstIndex + i) / (1 - ratio).
void dropout_backward(float* dx, const float* dy, int64_t count, int64_t firstIndex, float ratio, uint64_t seed,
                      uint64_t step);

// Row-band forms: rows [a, b) of an N x C x H x W map, the global index of element
// (n, c, h, w) being ((n * C + c) * H + h) * W + w, so a strip gets the same mask as the
// whole map. Both bands hold [a, b) and are of the same map.
void dropout_rows_forward(RowBand y, ConstRowBand x, float ratio, uint64_t seed, uint64_t step, int64_t a, int64_t b);
void dropout_rows_backward(RowBand dx, ConstRowBand dy, float ratio, uint64_t seed, uint64_t step, int64_t a,
                           int64_t b);

}  // namespace lrc::cpu

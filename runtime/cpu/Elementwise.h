// Element-wise kernels: the unary ops (ReLU, ...), the binary ops' same-shape fast paths (Add,
// Sub, Mul, Div; their broadcasting and gradient loops are runtime/ElementLoops.h's), Dropout.
// They map rows to the same
// rows, so callers pass band pointers and element counts; Dropout also takes the elements'
// global indices, which its mask depends on.
#pragma once

#include <cstdint>

#include "runtime/cpu/Parallel.h"
#include "runtime/cpu/RowBand.h"
#include "runtime/kernels/Binary.h"
#include "runtime/kernels/Unary.h"

namespace lrc::cpu {

// ---- unary ops: f is a functor of runtime/kernels/Unary.h ----

// Element i of every kernel here is one thread's (Parallel.h): results do not depend on the
// thread count.

// y = f.forward(x). y may alias x.
template <class F>
void unary_forward(const F& f, float* y, const float* x, int64_t count) {
  parallel_for(count, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) y[i] = f.forward(x[i]);
  });
}

// dx += f.backward(dy, saved). dx must not alias dy.
template <class F>
void unary_backward(const F& f, float* dx, const float* dy, const float* saved, int64_t count) {
  parallel_for(count, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) dx[i] += f.backward(dy[i], saved[i]);
  });
}

// Row-band forms: rows [a, b) of the output band; the operands are bands of the same map
// that hold [a, b), possibly with more rows (each is indexed by global row).
template <class F>
void unary_rows_forward(const F& f, RowBand y, ConstRowBand x, int64_t a, int64_t b) {
  check_rows_of_one_map("unary_rows_forward", {{"output", y}, {"input", x}}, a, b);
  parallel_planes(x.N, x.C, (b - a) * x.W,
                  [&](int64_t n, int64_t c) { unary_forward(f, y.row(n, c, a), x.row(n, c, a), (b - a) * x.W); });
}
// dx rows [a, b) += f.backward(dy, saved).
template <class F>
void unary_rows_backward(const F& f, RowBand dx, ConstRowBand dy, ConstRowBand saved, int64_t a, int64_t b) {
  check_rows_of_one_map("unary_rows_backward", {{"input-gradient", dx}, {"output-gradient", dy}, {"saved", saved}},
                        a, b);
  parallel_planes(dy.N, dy.C, (b - a) * dy.W, [&](int64_t n, int64_t c) {
    unary_backward(f, dx.row(n, c, a), dy.row(n, c, a), saved.row(n, c, a), (b - a) * dy.W);
  });
}

// y = max(x, 0); dx += dy where xOrY > 0 (the ReLU's input or output give the same mask).
inline void relu_forward(float* y, const float* x, int64_t count) { unary_forward(kernels::Relu{}, y, x, count); }
inline void relu_backward(float* dx, const float* dy, const float* xOrY, int64_t count) {
  unary_backward(kernels::Relu{}, dx, dy, xOrY, count);
}

// ---- binary ops of the same shape: F is a functor of runtime/kernels/Binary.h ----

// y = F::forward(x0, x1). y may alias either input.
template <class F>
void binary_forward(float* y, const float* x0, const float* x1, int64_t count) {
  parallel_for(count, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) y[i] = F::forward(x0[i], x1[i]);
  });
}
// Rows [a, b) of bands of one map, as the unary forms.
template <class F>
void binary_rows_forward(RowBand y, ConstRowBand x0, ConstRowBand x1, int64_t a, int64_t b) {
  check_rows_of_one_map("binary_rows_forward", {{"output", y}, {"first input", x0}, {"second input", x1}}, a, b);
  parallel_planes(y.N, y.C, (b - a) * y.W, [&](int64_t n, int64_t c) {
    binary_forward<F>(y.row(n, c, a), x0.row(n, c, a), x1.row(n, c, a), (b - a) * y.W);
  });
}

// dst += src: the gradient of a value used more than once is the sum over its uses.
void accumulate(float* dst, const float* src, int64_t count);

inline void relu_rows_forward(RowBand y, ConstRowBand x, int64_t a, int64_t b) {
  unary_rows_forward(kernels::Relu{}, y, x, a, b);
}
inline void relu_rows_backward(RowBand dx, ConstRowBand dy, ConstRowBand xOrY, int64_t a, int64_t b) {
  unary_rows_backward(kernels::Relu{}, dx, dy, xOrY, a, b);
}

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

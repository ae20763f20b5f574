// Element-wise kernels of the CUDA backend: the unary ops (runtime/kernels/Unary.h), the binary
// ops (runtime/kernels/Binary.h: rows, and the strided loops of broadcasting, sums and reduce_mean),
// Dropout and row copies (Identity, rows_copy, rows_sum). Each is one thread per element;
// semantics are cpu/Elementwise.h's. (The optimizer updates: cuda/Optimizer.cuh.)
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/kernels/Dropout.h"
#include "runtime/kernels/Binary.h"
#include "runtime/kernels/Strided.h"
#include "runtime/kernels/Unary.h"
#include "runtime/cuda/Device.h"

namespace lrc::cuda {

// ---- whole tensors ----

// Unary ops: f is a functor of runtime/kernels/Unary.h. y = f.forward(x).
template <class F>
struct UnaryForward {
  F f;
  float* y;
  const float* x;
  LRC_HD void operator()(int64_t i) const { y[i] = f.forward(x[i]); }
};
template <class F, class D>
void unary_forward(D& dev, const F& f, float* y, const float* x, int64_t count) {
  dev.forEach(count, UnaryForward<F>{f, y, x});
}

// dx += f.backward(dy, saved).
template <class F>
struct UnaryBackward {
  F f;
  float* dx;
  const float* dy;
  const float* saved;
  LRC_HD void operator()(int64_t i) const { dx[i] += f.backward(dy[i], saved[i]); }
};
template <class F, class D>
void unary_backward(D& dev, const F& f, float* dx, const float* dy, const float* saved, int64_t count) {
  dev.forEach(count, UnaryBackward<F>{f, dx, dy, saved});
}

// ---- row bands: rows [a, b) of bands of one map ----

// Calls op(n, c, h, w) for every element of rows [a, b) of an N x C x H x W map.
template <class Op>
struct ForRows {
  int64_t C, rows, W, a;
  Op op;
  LRC_HD void operator()(int64_t i) const {
    const Nchw p = splitIndex(i, C, rows, W, a);
    op(p.n, p.c, p.h, p.w);
  }
};
template <class D, class Op>
void forRows(D& dev, int64_t N, int64_t C, int64_t W, int64_t a, int64_t b, const Op& op) {
  if (b <= a) return;
  dev.forEach(N * C * (b - a) * W, ForRows<Op>{C, b - a, W, a, op});
}

template <class F>
struct UnaryRows {
  F f;
  kernels::RowBand y;
  kernels::ConstRowBand x;
  LRC_HD void operator()(int64_t n, int64_t c, int64_t h, int64_t w) const { y.at(n, c, h, w) = f.forward(x.at(n, c, h, w)); }
};
template <class F, class D>
void unary_rows_forward(D& dev, const F& f, kernels::RowBand y, kernels::ConstRowBand x, int64_t a, int64_t b) {
  forRows(dev, y.N, y.C, y.W, a, b, UnaryRows<F>{f, y, x});
}

template <class F>
struct UnaryGradRows {
  F f;
  kernels::RowBand dx;
  kernels::ConstRowBand dy, saved;
  LRC_HD void operator()(int64_t n, int64_t c, int64_t h, int64_t w) const {
    dx.at(n, c, h, w) += f.backward(dy.at(n, c, h, w), saved.at(n, c, h, w));
  }
};
template <class F, class D>
void unary_rows_backward(D& dev, const F& f, kernels::RowBand dx, kernels::ConstRowBand dy, kernels::ConstRowBand saved,
                         int64_t a, int64_t b) {
  forRows(dev, dx.N, dx.C, dx.W, a, b, UnaryGradRows<F>{f, dx, dy, saved});
}

// Binary ops on bands of one map (F: runtime/kernels/Binary.h), the plain form of the strided loop.
template <class F>
struct BinaryRows {
  kernels::RowBand y;
  kernels::ConstRowBand x0, x1;
  LRC_HD void operator()(int64_t n, int64_t c, int64_t h, int64_t w) const {
    y.at(n, c, h, w) = F::forward(x0.at(n, c, h, w), x1.at(n, c, h, w));
  }
};
template <class F, class D>
void binary_rows(D& dev, kernels::RowBand y, kernels::ConstRowBand x0, kernels::ConstRowBand x1, int64_t a, int64_t b) {
  forRows(dev, y.N, y.C, y.W, a, b, BinaryRows<F>{y, x0, x1});
}

// dst rows [a, b) = src rows [a, b), or += when `accumulate`.
struct CopyRows {
  kernels::RowBand dst;
  kernels::ConstRowBand src;
  bool accumulate;
  LRC_HD void operator()(int64_t n, int64_t c, int64_t h, int64_t w) const {
    const float v = src.at(n, c, h, w);
    float& d = dst.at(n, c, h, w);
    d = accumulate ? d + v : v;
  }
};
template <class D>
void copy_rows(D& dev, kernels::RowBand dst, kernels::ConstRowBand src, int64_t a, int64_t b, bool accumulate) {
  forRows(dev, dst.N, dst.C, dst.W, a, b, CopyRows{dst, src, accumulate});
}

// ---- strided loops (runtime/kernels/Strided.h): broadcasting, per-channel operands on rows, sums ----

// One thread per result element, each adding its summed elements in index order, as the CPU
// backend does (no atomics, the same sums).
template <class D, class Term>
void run_loop(D& dev, float* result, const kernels::ReduceLoop& loop, const Term& term, float scale = 1.0f) {
  dev.forEach(loop.kept.count(), kernels::makeReduce(result, loop, term, scale));
}

// ---- Dropout: kernels::dropout_hash's mask, bit for bit ----

struct DropoutMask {
  uint64_t seed, step, threshold;
  float ratio;
  LRC_HD float scale() const { return kernels::dropout_keep_scale(ratio); }
  LRC_HD bool keep(uint64_t index) const { return kernels::dropout_hash(seed, step, index) < threshold; }
};

// y = x * mask / (1 - ratio), or dx += that of dy when `accumulate`.
struct DropoutApply {
  float* y;
  const float* x;
  DropoutMask mask;
  bool accumulate;
  LRC_HD void operator()(int64_t i) const {
    const float v = mask.keep(static_cast<uint64_t>(i)) ? x[i] * mask.scale() : 0.0f;
    y[i] = accumulate ? y[i] + v : v;
  }
};
template <class D>
void dropout_apply(D& dev, float* y, const float* x, int64_t count, const DropoutMask& mask, bool accumulate) {
  dev.forEach(count, DropoutApply{y, x, mask, accumulate});
}

struct DropoutRows {
  kernels::RowBand y;
  kernels::ConstRowBand x;
  DropoutMask mask;
  bool accumulate;
  LRC_HD void operator()(int64_t n, int64_t c, int64_t h, int64_t w) const {
    const uint64_t index = static_cast<uint64_t>(((n * y.C + c) * y.H + h) * y.W + w);
    const float v = mask.keep(index) ? x.at(n, c, h, w) * mask.scale() : 0.0f;
    float& out = y.at(n, c, h, w);
    out = accumulate ? out + v : v;
  }
};
template <class D>
void dropout_rows_apply(D& dev, kernels::RowBand y, kernels::ConstRowBand x, const DropoutMask& mask, int64_t a,
                        int64_t b, bool accumulate) {
  forRows(dev, y.N, y.C, y.W, a, b, DropoutRows{y, x, mask, accumulate});
}

}  // namespace lrc::cuda

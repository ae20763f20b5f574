// Element-wise kernels of the CUDA backend: the unary ops (runtime/kernels/Unary.h), Add (rows and numpy broadcasting), Sum-to,
// Dropout and row copies (Identity, rows_copy, rows_sum). Each is one thread per element;
// semantics are cpu/Elementwise.h's. (The optimizer updates: cuda/Optimizer.cuh.)
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/kernels/Dropout.h"
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

struct AddRows {
  kernels::RowBand y;
  kernels::ConstRowBand x0, x1;
  LRC_HD void operator()(int64_t n, int64_t c, int64_t h, int64_t w) const {
    y.at(n, c, h, w) = x0.at(n, c, h, w) + x1.at(n, c, h, w);
  }
};
template <class D>
void add_rows(D& dev, kernels::RowBand y, kernels::ConstRowBand x0, kernels::ConstRowBand x1, int64_t a, int64_t b) {
  forRows(dev, y.N, y.C, y.W, a, b, AddRows{y, x0, x1});
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

// ---- numpy broadcasting (shapes aligned on the right) ----

// An operand's strides by position in the result, for up to kMaxRank axes.
struct Broadcast {
  static constexpr int kMaxRank = 8;
  int rank = 0;
  int64_t extent[kMaxRank] = {};  // the result's (or the iterated tensor's) shape
  int64_t stride[kMaxRank] = {};  // 0 on broadcast axes

  static Broadcast of(const std::vector<int64_t>& shape, const std::vector<int64_t>& strides) {
    if (shape.size() > kMaxRank)
      throw std::invalid_argument("broadcasting supports rank <= " + std::to_string(kMaxRank) + ", got " +
                                  std::to_string(shape.size()));
    Broadcast b;
    b.rank = static_cast<int>(shape.size());
    for (int d = 0; d < b.rank; ++d) {
      b.extent[d] = shape[static_cast<size_t>(d)];
      b.stride[d] = strides[static_cast<size_t>(d)];
    }
    return b;
  }
  // The operand's index of element i of the iterated tensor.
  LRC_HD int64_t index(int64_t i) const {
    int64_t at = 0;
    for (int d = rank - 1; d >= 0; --d) {
      at += (i % extent[d]) * stride[d];
      i /= extent[d];
    }
    return at;
  }
  int64_t count() const {
    int64_t n = 1;
    for (int d = 0; d < rank; ++d) n *= extent[d];
    return n;
  }
};

struct AddBroadcast {
  float* y;
  const float *x0, *x1;
  Broadcast b0, b1;
  LRC_HD void operator()(int64_t i) const { y[i] = x0[b0.index(i)] + x1[b1.index(i)]; }
};
template <class D>
void add_broadcast(D& dev, float* y, const float* x0, const float* x1, const Broadcast& b0, const Broadcast& b1) {
  dev.forEach(b0.count(), AddBroadcast{y, x0, x1, b0, b1});
}

// y = x summed over the axes that broadcasting added or stretched (the result has 1 there):
// one thread per y element adds its x elements in increasing x order, in float, as the CPU
// backend does (no atomics, the same sums). `x` gives x's shape and y's strides by x axis
// (0 on the summed axes).
struct SumTo {
  float* y;
  const float* x;
  Broadcast toY;
  LRC_HD void operator()(int64_t j) const {
    // x's coordinates on the kept axes come from j; the summed axes are enumerated.
    int64_t base = 0, xStride = 1, summed = 1;
    int64_t xStrides[Broadcast::kMaxRank];
    for (int d = toY.rank - 1; d >= 0; --d) {
      xStrides[d] = xStride;
      if (toY.stride[d] != 0)
        base += ((j / toY.stride[d]) % toY.extent[d]) * xStride;
      else
        summed *= toY.extent[d];
      xStride *= toY.extent[d];
    }
    float sum = 0.0f;
    for (int64_t r = 0; r < summed; ++r) {
      int64_t at = base, rest = r;
      for (int d = toY.rank - 1; d >= 0; --d)
        if (toY.stride[d] == 0) {
          at += (rest % toY.extent[d]) * xStrides[d];
          rest /= toY.extent[d];
        }
      sum += x[at];
    }
    y[j] = sum;
  }
};
template <class D>
void sum_to(D& dev, float* y, const float* x, int64_t yCount, const Broadcast& toY) {
  dev.forEach(yCount, SumTo{y, x, toY});
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

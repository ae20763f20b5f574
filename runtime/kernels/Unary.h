// Element-wise unary ops, once for both backends: each is a functor with its forward formula
// and its backward formula, and LRC_UNARY_KERNELS lists them with their plan kernels, so the
// CPU and CUDA backends dispatch every one of them by expanding the list (their loops are
// templates over the functor: cpu/Elementwise.h, cuda/Elementwise.cuh). Adding a unary op to
// the runtime is one functor and one line here (docs/adding-an-op.md).
//   forward(x) -> y
//   backward(dy, saved) -> the contribution to dx, where `saved` is the operand 1 of the
//   gradient kernel: the forward's result or its input, as the op's gradient rule
//   (passes/GradEmitter) chooses.
// An op with parameters (HardSigmoid's alpha and beta, Clip's bounds, Pow's exponent) names the attributes
// that hold them in `kAttrs` and is made from a UnaryParams: step preparation
// (runtime/PreparedStep.cpp) reads those attributes of the forward and the gradient step
// alike, and the backends make the functor with unaryOf.
#pragma once

#include <cmath>
#include <type_traits>

#include "runtime/kernels/Portable.h"

namespace lrc::kernels {

// The values of a functor's `kAttrs`, in that order.
struct UnaryParams {
  float values[2] = {0.0f, 0.0f};
};

struct Relu {
  // Branch-free selects (the compiler vectorizes them): half the values are positive, so a
  // branch mispredicts often (bench/calibrate.py measured it at 4x relu's cost per float).
  LRC_HD float forward(float x) const { return x > 0.0f ? x : 0.0f; }
  LRC_HD float backward(float dy, float y) const { return y > 0.0f ? dy : 0.0f; }
};

// 1 / (1 + e^-x); the gradient from the result: dy * y * (1 - y).
struct Sigmoid {
  LRC_HD float forward(float x) const { return 1.0f / (1.0f + expf(-x)); }
  LRC_HD float backward(float dy, float y) const { return dy * y * (1.0f - y); }
};

// ONNX HardSigmoid: max(0, min(1, alpha * x + beta)). The gradient passes (times alpha) where
// 0 < y < 1, strictly, as torch's hardsigmoid_backward (-3 < x < 3 for its alpha 1/6, beta 1/2).
struct HardSigmoid {
  static constexpr const char* kAttrs[] = {"alpha", "beta"};
  float alpha, beta;
  LRC_HD explicit HardSigmoid(const UnaryParams& p) : alpha(p.values[0]), beta(p.values[1]) {}
  LRC_HD float forward(float x) const {
    const float v = alpha * x + beta;
    return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
  }
  LRC_HD float backward(float dy, float y) const { return y > 0.0f && y < 1.0f ? dy * alpha : 0.0f; }
};

// ONNX HardSwish (x * HardSigmoid(x), alpha 1/6, beta 1/2) in torch's arithmetic: forward
// x * min(max(x + 3, 0), 6) / 6; backward (torch's hardswish_backward, from the input x)
// 0 for x < -3, dy * (x / 3 + 1/2) for -3 <= x <= 3, dy above.
struct HardSwish {
  LRC_HD float forward(float x) const {
    const float r = x + 3.0f;
    return x * (r < 0.0f ? 0.0f : (r > 6.0f ? 6.0f : r)) / 6.0f;
  }
  LRC_HD float backward(float dy, float x) const {
    return x < -3.0f ? 0.0f : (x <= 3.0f ? dy * (x / 3.0f + 0.5f) : dy);
  }
};

// ONNX Clip: min(max(x, min), max) (max wins when min > max, as ONNX and torch.clamp say; an
// absent bound is an infinite one; NaN stays NaN). The gradient passes where min < y < max,
// strictly, as torch's hardtanh_backward (nn.ReLU6, F.hardtanh) does; torch.clamp's own
// backward would also pass at the bounds. From the result: min < y < max iff min < x < max.
struct Clip {
  static constexpr const char* kAttrs[] = {"min", "max"};
  float lo, hi;
  LRC_HD explicit Clip(const UnaryParams& p) : lo(p.values[0]), hi(p.values[1]) {}
  LRC_HD float forward(float x) const {
    const float v = x < lo ? lo : x;
    return v > hi ? hi : v;
  }
  LRC_HD float backward(float dy, float y) const { return y > lo && y < hi ? dy : 0.0f; }
};

// The error function (GELU's exact form, x/2 (1 + erf(x/sqrt 2))); the gradient from the input:
// dy * 2/sqrt(pi) * exp(-x^2).
struct Erf {
  LRC_HD float forward(float x) const { return erff(x); }
  LRC_HD float backward(float dy, float x) const { return dy * 1.1283791670955126f * expf(-x * x); }
};

// The square root (LayerNorm's sqrt(var + eps)); the gradient from the result: dy / (2 y), inf
// at y = 0 as torch's.
struct Sqrt {
  LRC_HD float forward(float x) const { return sqrtf(x); }
  LRC_HD float backward(float dy, float y) const { return dy / (2.0f * y); }
};

// x^exponent for a constant exponent (ONNX Pow whose exponent input is a constant scalar); the
// gradient from the input as torch's pow_backward: dy * exponent * x^(exponent - 1), 0 when the
// exponent is 0. Exponents 2 and 1 are exact products (powf(x, 2) may round on some GPUs).
struct Pow {
  static constexpr const char* kAttrs[] = {"exponent"};
  float p;
  LRC_HD explicit Pow(const UnaryParams& params) : p(params.values[0]) {}
  LRC_HD static float power(float x, float e) { return e == 2.0f ? x * x : (e == 1.0f ? x : powf(x, e)); }
  LRC_HD float forward(float x) const { return power(x, p); }
  LRC_HD float backward(float dy, float x) const { return p == 0.0f ? 0.0f : dy * p * power(x, p - 1.0f); }
};

// Whether F has parameters (then it has `kAttrs` and is made from a UnaryParams).
template <class F>
inline constexpr bool kHasUnaryParams = std::is_constructible_v<F, const UnaryParams&>;

// The functor of a step with parameters `p`.
template <class F>
LRC_HD F unaryOf([[maybe_unused]] const UnaryParams& p) {
  if constexpr (kHasUnaryParams<F>)
    return F(p);
  else
    return F{};
}

// X(forward kernel, gradient kernel, functor): runtime::Kernel names.
#define LRC_UNARY_KERNELS(X)                       \
  X(Relu, ReluGrad, kernels::Relu)                 \
  X(Sigmoid, SigmoidGrad, kernels::Sigmoid)        \
  X(HardSigmoid, HardSigmoidGrad, kernels::HardSigmoid) \
  X(HardSwish, HardSwishGrad, kernels::HardSwish)  \
  X(Clip, ClipGrad, kernels::Clip)                 \
  X(Erf, ErfGrad, kernels::Erf)                    \
  X(Sqrt, SqrtGrad, kernels::Sqrt)                 \
  X(Pow, PowGrad, kernels::Pow)

}  // namespace lrc::kernels

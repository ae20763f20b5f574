// The binary element-wise family, once for both backends: each op is a functor with its
// forward formula and the gradients of its two operands (PyTorch's formulas), and
// LRC_BINARY_KERNELS lists them with their plan kernels, so that the CPU and CUDA backends,
// the plan loader's checks and step preparation dispatch every one by expanding the list.
// The loops are runtime/kernels/Strided.h's (numpy broadcasting, row bands, the sums of a
// broadcast operand's gradient); the terms below plug the formulas into them.
//   forward(a, b) -> y
//   grad0(dy, a, b), grad1(dy, a, b) -> the contributions to da and db of one element
#pragma once

#include "runtime/kernels/Portable.h"
#include "runtime/kernels/Strided.h"

namespace lrc::kernels {

struct Add {
  LRC_HD static float forward(float a, float b) { return a + b; }
  LRC_HD static float grad0(float dy, float, float) { return dy; }
  LRC_HD static float grad1(float dy, float, float) { return dy; }
};
struct Sub {
  LRC_HD static float forward(float a, float b) { return a - b; }
  LRC_HD static float grad0(float dy, float, float) { return dy; }
  LRC_HD static float grad1(float dy, float, float) { return -dy; }
};
struct Mul {
  LRC_HD static float forward(float a, float b) { return a * b; }
  LRC_HD static float grad0(float dy, float, float b) { return dy * b; }
  LRC_HD static float grad1(float dy, float a, float) { return dy * a; }
};
// PyTorch's div_tensor_other_backward: -grad * ((self / other) / other).
struct Div {
  LRC_HD static float forward(float a, float b) { return a / b; }
  LRC_HD static float grad0(float dy, float, float b) { return dy / b; }
  LRC_HD static float grad1(float dy, float a, float b) { return -dy * ((a / b) / b); }
};

// X(forward kernel, gradient kernel, functor): runtime::Kernel names.
#define LRC_BINARY_KERNELS(X) \
  X(Add, AddGrad, kernels::Add) X(Sub, SubGrad, kernels::Sub) X(Mul, MulGrad, kernels::Mul) X(Div, DivGrad, kernels::Div)

// The gradient kernels' attribute: which operand's gradient the step computes.
struct BinaryGradParams {
  int operand = 0;
};

// y = F::forward(a, b) (no summed axes).
template <class F>
struct BinaryTerm {
  StridedOperand a, b;
  static constexpr int kArity = 2;
  LRC_HD const StridedOperand& operand(int i) const { return i == 0 ? a : b; }
  LRC_HD float of(const float* v) const { return F::forward(v[0], v[1]); }
  LRC_HD float operator()(const Axes& kept, const Axes& summed, int64_t k, int64_t s) const {
    const float v[2] = {load(a, kept, summed, k, s), load(b, kept, summed, k, s)};
    return of(v);
  }
};

// One operand's gradient, summed over the axes the result reduces.
template <class F>
struct BinaryGradTerm {
  StridedOperand dy, a, b;
  int which;  // 0: a's gradient, 1: b's
  static constexpr int kArity = 3;
  LRC_HD const StridedOperand& operand(int i) const { return i == 0 ? dy : i == 1 ? a : b; }
  LRC_HD float of(const float* v) const { return which == 0 ? F::grad0(v[0], v[1], v[2]) : F::grad1(v[0], v[1], v[2]); }
  LRC_HD float operator()(const Axes& kept, const Axes& summed, int64_t k, int64_t s) const {
    const float v[3] = {load(dy, kept, summed, k, s), load(a, kept, summed, k, s), load(b, kept, summed, k, s)};
    return of(v);
  }
};

}  // namespace lrc::kernels

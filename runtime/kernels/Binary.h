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
  LRC_HD float operator()(const Axes& kept, const Axes& summed, int64_t k, int64_t s) const {
    return F::forward(load(a, kept, summed, k, s), load(b, kept, summed, k, s));
  }
};

// One operand's gradient, summed over the axes the result reduces.
template <class F>
struct BinaryGradTerm {
  StridedOperand dy, a, b;
  int operand;
  LRC_HD float operator()(const Axes& kept, const Axes& summed, int64_t k, int64_t s) const {
    const float g = load(dy, kept, summed, k, s), x0 = load(a, kept, summed, k, s), x1 = load(b, kept, summed, k, s);
    return operand == 0 ? F::grad0(g, x0, x1) : F::grad1(g, x0, x1);
  }
};

}  // namespace lrc::kernels

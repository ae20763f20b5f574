// Element-wise unary ops, once for both backends: each is a functor with its forward formula
// and its backward formula, and LRC_UNARY_KERNELS lists them with their plan kernels, so the
// CPU and CUDA backends dispatch every one of them by expanding the list (their loops are
// templates over the functor: cpu/Elementwise.h, cuda/Elementwise.cuh). Adding a unary op to
// the runtime is one functor and one line here (docs/adding-an-op.md).
//   forward(x) -> y
//   backward(dy, saved) -> the contribution to dx, where `saved` is the operand 1 of the
//   gradient kernel: the forward's result or its input, as the op's gradient rule
//   (passes/GradEmitter) chooses.
#pragma once

#include "runtime/kernels/Portable.h"

namespace lrc::kernels {

struct Relu {
  // Branch-free selects (the compiler vectorizes them): half the values are positive, so a
  // branch mispredicts often (bench/calibrate.py measured it at 4x relu's cost per float).
  LRC_HD static float forward(float x) { return x > 0.0f ? x : 0.0f; }
  LRC_HD static float backward(float dy, float y) { return y > 0.0f ? dy : 0.0f; }
};

// X(forward kernel, gradient kernel, functor): runtime::Kernel names.
#define LRC_UNARY_KERNELS(X) X(Relu, ReluGrad, kernels::Relu)

}  // namespace lrc::kernels

// Parameters of Gemm (ONNX Gemm, PyTorch Linear) and Softmax, shared by the plan loader's step
// preparation (runtime/PreparedStep.h) and both backends.
#pragma once

#include <cstdint>

#include "runtime/kernels/Portable.h"

namespace lrc::kernels {

// How Gemm's C operand broadcasts to the M x N result (ONNX's unidirectional broadcast).
enum class GemmBias {
  None,    // no C
  Scalar,  // C[1]
  Row,     // C[N]   (or [1, N]), added to every row
  Column,  // C[M, 1], added to every column
  Full,    // C[M, N]
};

struct GemmParams {
  int64_t M = 0, N = 0, K = 0;  // Y is M x N; op(A) is M x K, op(B) is K x N
  bool transA = false;          // A stored K x M
  bool transB = false;          // B stored N x K
  float alpha = 1.0f, beta = 1.0f;
  GemmBias bias = GemmBias::None;
  bool accumulate = false;  // Y += alpha op(A) op(B): the accumulating form (no C)
};

// Softmax over one axis of a tensor seen as [outer][classes][inner]: the last axis is inner = 1.
struct SoftmaxParams {
  int64_t outer = 0, classes = 0, inner = 1;
};

// Index into C that element (i, j) of an M x N result reads.
LRC_HD inline int64_t gemm_bias_index(GemmBias bias, int64_t N, int64_t i, int64_t j) {
  switch (bias) {
    case GemmBias::None:
    case GemmBias::Scalar:
      return 0;
    case GemmBias::Row:
      return j;
    case GemmBias::Column:
      return i;
    case GemmBias::Full:
      return i * N + j;
  }
  return 0;
}

}  // namespace lrc::kernels

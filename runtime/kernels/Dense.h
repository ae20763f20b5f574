// Parameters of Gemm (ONNX Gemm, PyTorch Linear), shared by the plan loader's readers
// (runtime/StepArgs.h) and both backends.
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

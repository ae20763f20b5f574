// The one place the CPU kernels call BLAS: a row-major sgemm with 64-bit sizes checked
// against BLAS's 32-bit integers. Internal to runtime/cpu.
#pragma once

#include <cstdint>

namespace lrc::cpu {

// C[M x N] = alpha * op(A) * op(B) + beta * C, row-major, op(X) = X^T when transX. lda,
// ldb, ldc are the row strides of A, B, C as stored. Throws std::invalid_argument when a
// size does not fit BLAS's int.
void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace lrc::cpu

#include "runtime/cpu/Blas.h"

#include <cblas.h>

#include <limits>
#include <stdexcept>
#include <string>

namespace lrc::cpu {

namespace {

blasint blasSize(int64_t v, const char* what) {
  if (v < 0 || v > std::numeric_limits<blasint>::max())
    throw std::invalid_argument(std::string("sgemm: ") + what + " = " + std::to_string(v) +
                                " does not fit BLAS's integer");
  return static_cast<blasint>(v);
}

}  // namespace

void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    // BLAS handles K == 0 as C = beta * C; spelled out because some BLAS reject lda == 0.
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
    return;
  }
  cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, blasSize(M, "M"),
              blasSize(N, "N"), blasSize(K, "K"), alpha, A, blasSize(lda, "lda"), B, blasSize(ldb, "ldb"), beta, C,
              blasSize(ldc, "ldc"));
}

}  // namespace lrc::cpu

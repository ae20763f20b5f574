// What the CUDA backend's kernels are written against, so that the same kernel code runs on
// the GPU (CudaDevice: one thread per index, cuBLAS) and on the host (HostDevice: a serial
// loop, a reference column-major SGEMM in cuBLAS's place). The host form is how the CUDA
// backend's kernels and dispatch are tested on machines without a GPU (docs/cuda.md).
//
// A device type D provides:
//   template <class F> void forEach(int64_t n, const F& f);  // f(i) for i in [0, n), any order
//   template <int K, class V, class F>                        // per segment s < segments:
//   void segmentReduce(int64_t segments, int64_t length,      //   v(s, i, acc) for i < length adds
//                      const V& v, const F& f);                //   K doubles; f(s, totals) once
//   void gemm(const GemmCall& call);                         // cuBLAS's cublasSgemm(StridedBatched)
//   unsigned char* allocate(uint64_t bytes); void release(unsigned char*);
//   runtime::AvailableMemory availableMemory();              // what allocate can take now
//   void fill(void* p, unsigned char byte, uint64_t bytes);
//   void toDevice(void* dst, const void* src, uint64_t bytes);   // from host memory
//   void toHost(void* dst, const void* src, uint64_t bytes);     // to host memory, synchronous
//   void onDevice(void* dst, const void* src, uint64_t bytes);   // device to device
//   void synchronize();
// Kernel functors are trivially copyable structs of sizes and device pointers whose
// operator()(int64_t i) is LRC_HD; they may not throw, allocate or read host memory.
// segmentReduce adds in an order of the device's choosing (a fixed tree on the GPU, so the
// same data gives the same bits; in index order on the host).
#pragma once

#include <cstdint>

#include "runtime/kernels/Portable.h"
#include "runtime/kernels/RowBand.h"

namespace lrc::cuda {

// Splits index i of an n x c x rows x w iteration space (rows counted from `first`).
struct Nchw {
  int64_t n, c, h, w;
};
LRC_HD inline Nchw splitIndex(int64_t i, int64_t C, int64_t rows, int64_t W, int64_t first) {
  Nchw p;
  p.w = i % W;
  i /= W;
  p.h = first + i % rows;
  i /= rows;
  p.c = i % C;
  p.n = i / C;
  return p;
}

// One cublasSgemm call, column-major: C = alpha * op(A) * op(B) + beta * C with op(A) m x k,
// op(B) k x n, C m x n; beta == 0 means C is not read. With batch > 1 it is
// cublasSgemmStridedBatched: product i takes A + i * strideA, B + i * strideB, C + i *
// strideC (a stride may be 0: the same matrix for every product).
struct GemmCall {
  bool transA = false, transB = false;
  int64_t m = 0, n = 0, k = 0;
  float alpha = 1.0f;
  const float* A = nullptr;
  int64_t lda = 0;
  const float* B = nullptr;
  int64_t ldb = 0;
  float beta = 0.0f;
  float* C = nullptr;
  int64_t ldc = 0;
  int64_t batch = 1, strideA = 0, strideB = 0, strideC = 0;
};

// The row-major product the kernels think in (the CPU's sgemm, runtime/cpu/Blas.h: C[M x N] = alpha * op(A)
// * op(B) + beta * C with leading dimensions as stored) as the column-major call that
// computes it: a row-major matrix is its transpose in column-major order, so C^T = op(B)^T *
// op(A)^T swaps the operands.
inline GemmCall rowMajorGemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                             int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  GemmCall call;
  call.transA = transB;
  call.transB = transA;
  call.m = N;
  call.n = M;
  call.k = K;
  call.alpha = alpha;
  call.A = B;
  call.lda = ldb;
  call.B = A;
  call.ldb = lda;
  call.beta = beta;
  call.C = C;
  call.ldc = ldc;
  return call;
}

template <class D>
void sgemm(D& dev, bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  dev.gemm(rowMajorGemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc));
}

// `batch` row-major products at once (one launch instead of `batch`): product i takes A +
// i * strideA, B + i * strideB, C + i * strideC.
template <class D>
void sgemmBatched(D& dev, int64_t batch, bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
                  const float* A, int64_t lda, int64_t strideA, const float* B, int64_t ldb, int64_t strideB, float beta,
                  float* C, int64_t ldc, int64_t strideC) {
  if (M == 0 || N == 0 || batch == 0) return;
  GemmCall call = rowMajorGemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  call.batch = batch;
  call.strideA = strideB;  // the operands swap places (rowMajorGemm)
  call.strideB = strideA;
  call.strideC = strideC;
  dev.gemm(call);
}

}  // namespace lrc::cuda

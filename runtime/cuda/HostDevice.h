// The host form of the CUDA backend's device (Device.h): kernels run as serial loops over
// host memory and cuBLAS's SGEMM is a plain column-major reference loop written from
// cuBLAS's documented semantics. It runs the CUDA backend's own kernel code and dispatch
// without a GPU ("lrc-run --device cuda-emulated"), so tests on any machine check the
// indexing, the band arithmetic and the row-major-to-column-major mapping the GPU runs.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "runtime/AvailableMemory.h"
#include "runtime/cuda/Device.h"

namespace lrc::cuda {

class HostDevice {
 public:
  static constexpr const char* kName = "cuda-emulated";

  template <class F>
  void forEach(int64_t n, const F& f) {
    for (int64_t i = 0; i < n; ++i) f(i);
  }

  template <int K, class V, class F>
  void segmentReduce(int64_t segments, int64_t length, const V& value, const F& finish) {
    for (int64_t s = 0; s < segments; ++s) {
      double acc[K] = {};
      for (int64_t i = 0; i < length; ++i) value(s, i, acc);
      finish(s, acc);
    }
  }

  // cuBLAS's checks first (it returns CUBLAS_STATUS_INVALID_VALUE for these), so that a
  // call the GPU would refuse fails here too.
  void gemm(const GemmCall& c) {
    auto atLeast = [](int64_t v) { return v > 1 ? v : 1; };
    if (c.m < 0 || c.n < 0 || c.k < 0 || c.batch < 0 || c.lda < atLeast(c.transA ? c.k : c.m) ||
        c.ldb < atLeast(c.transB ? c.n : c.k) || c.ldc < atLeast(c.m))
      throw std::runtime_error("cublasSgemm: CUBLAS_STATUS_INVALID_VALUE (m " + std::to_string(c.m) + ", n " +
                               std::to_string(c.n) + ", k " + std::to_string(c.k) + ", lda " + std::to_string(c.lda) +
                               ", ldb " + std::to_string(c.ldb) + ", ldc " + std::to_string(c.ldc) + ", batch " +
                               std::to_string(c.batch) + ")");
    for (int64_t i = 0; i < c.batch; ++i) {
      const float* A = c.A + i * c.strideA;
      const float* B = c.B + i * c.strideB;
      float* C = c.C + i * c.strideC;
      auto a = [&](int64_t r, int64_t l) { return c.transA ? A[l + r * c.lda] : A[r + l * c.lda]; };
      auto b = [&](int64_t l, int64_t j) { return c.transB ? B[j + l * c.ldb] : B[l + j * c.ldb]; };
      for (int64_t j = 0; j < c.n; ++j)
        for (int64_t r = 0; r < c.m; ++r) {
          double sum = 0.0;
          for (int64_t l = 0; l < c.k; ++l) sum += static_cast<double>(a(r, l)) * b(l, j);
          float& out = C[r + j * c.ldc];
          out = static_cast<float>(c.alpha * sum + (c.beta == 0.0f ? 0.0 : static_cast<double>(c.beta) * out));
        }
    }
  }

  unsigned char* allocate(uint64_t bytes) {
    const uint64_t rounded = (bytes + 63) / 64 * 64;
    auto* p = static_cast<unsigned char*>(std::aligned_alloc(64, rounded ? rounded : 64));
    if (!p) throw std::runtime_error("cannot allocate " + std::to_string(bytes) + " bytes of host memory");
    return p;
  }
  void release(unsigned char* p) { std::free(p); }
  runtime::AvailableMemory availableMemory() const { return runtime::hostAvailableMemory(); }
  void fill(void* p, unsigned char byte, uint64_t bytes) { std::memset(p, byte, bytes); }
  void toDevice(void* dst, const void* src, uint64_t bytes) { std::memcpy(dst, src, bytes); }
  void toHost(void* dst, const void* src, uint64_t bytes) { std::memcpy(dst, src, bytes); }
  void onDevice(void* dst, const void* src, uint64_t bytes) { std::memmove(dst, src, bytes); }
  void synchronize() {}
  std::string memoryReport(uint64_t, uint64_t) const { return ""; }
  // Data parallel: averages go through host memory (DeviceBackend's staging), never NCCL.
  bool averagesOnDevice() const { return false; }
  void startDeviceAverage(int, float*, int64_t) { throw std::logic_error("HostDevice has no device averaging"); }
  void waitDeviceAverage(int) { throw std::logic_error("HostDevice has no device averaging"); }
};

}  // namespace lrc::cuda

// The reference backend: plan steps on the CPU kernels of runtime/cpu (BLAS for the matrix
// products), every spatial kernel over the whole map as one row band. The arena is one
// 64-byte aligned heap allocation; memory peak and overruns are measured with a canary
// (runtime/ArenaGuard.h).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "runtime/AvailableMemory.h"
#include "runtime/Backend.h"

namespace lrc::runtime {

class CpuBackend : public Backend {
 public:
  // `available` says how much memory allocateArena may take (runtime/AvailableMemory.h);
  // tests pass a figure of their own instead of the machine's.
  explicit CpuBackend(std::function<AvailableMemory()> available = hostAvailableMemory);
  ~CpuBackend() override;

  std::string name() const override { return "cpu"; }
  bool supports(Kernel) const override { return true; }
  void allocateArena(uint64_t bytes) override;
  void copyIn(uint64_t offset, const void* src, uint64_t bytes) override;
  void copyOut(uint64_t offset, void* dst, uint64_t bytes) override;
  void zero(uint64_t offset, uint64_t bytes) override;
  void run(const PreparedStep& step, const RunContext& context) override;
  void synchronize() override {}
  uint64_t measuredPeakBytes() override;

 private:
  struct FreeDeleter {
    void operator()(unsigned char* p) const;
  };
  std::unique_ptr<unsigned char, FreeDeleter> arena_;
  uint64_t arenaBytes_ = 0;
  uint64_t allocatedBytes_ = 0;        // arena, guard, and the rounding to the alignment
  std::function<AvailableMemory()> available_;

  void checkRange(uint64_t offset, uint64_t bytes, const char* what) const;
};

}  // namespace lrc::runtime

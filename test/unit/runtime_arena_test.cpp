// The arena as the backends allocate it: where the CUDA backend's status record lies (its
// kernels update it with 64-bit atomics), checked through the host emulation, which runs the
// same DeviceBackend code as the GPU.
#include <gtest/gtest.h>

#include <cstdint>

#include "runtime/cuda/DeviceBackend.h"
#include "runtime/cuda/HostDevice.h"

namespace lrc::runtime::testing {
namespace {

// A plan's arena size need not be a multiple of 8 (a loss is 4 bytes); the record after it
// must still be aligned for atomicCAS on unsigned long long.
TEST(CudaStatusRecord, AlignedWhateverTheArenaSize) {
  for (const uint64_t bytes : {uint64_t{1}, uint64_t{13}, uint64_t{1001}, uint64_t{4100}, uint64_t{65536}}) {
    cuda::DeviceBackend<cuda::HostDevice> backend{cuda::HostDevice{}};
    backend.allocateArena(bytes);
    const auto address = reinterpret_cast<uintptr_t>(backend.statusRecord());
    EXPECT_EQ(address % alignof(unsigned long long), 0u) << "arena of " << bytes << " bytes";
  }
}

}  // namespace
}  // namespace lrc::runtime::testing

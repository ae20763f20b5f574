// The arena as the backends allocate it: checked against the memory available before it is
// allocated (with a figure the test gives, so nothing large is ever allocated), and where the
// CUDA backend's status record lies (its kernels update it with 64-bit atomics), both through
// the host emulation, which runs the same DeviceBackend code as the GPU, and on the CPU.
#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "runtime/cpu/CpuBackend.h"
#include "runtime/cuda/DeviceBackend.h"
#include "runtime/cuda/HostDevice.h"

namespace lrc::runtime::testing {
namespace {

constexpr uint64_t kAvailable = 1 << 20;
AvailableMemory testFigure() { return {kAvailable, "the test's figure"}; }

// The host emulation's device with the test's figure as its free memory.
struct SmallDevice : cuda::HostDevice {
  AvailableMemory availableMemory() const { return testFigure(); }
};

// allocateArena(bytes) throws the one-line error with the figure available and the source
// of it, and the bytes asked (at least `bytes`: the guard and rounding come on top).
void expectRefused(Backend& backend, uint64_t bytes) {
  try {
    backend.allocateArena(bytes);
    ADD_FAILURE() << backend.name() << ": an arena of " << bytes << " bytes was allocated";
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_NE(message.find(" are available (the test's figure)"), std::string::npos) << message;
    EXPECT_NE(message.find("only " + std::to_string(kAvailable) + " "), std::string::npos) << message;
    const size_t at = message.find("needs ");
    ASSERT_NE(at, std::string::npos) << message;
    EXPECT_GE(std::stoull(message.substr(at + 6)), bytes) << message;
  }
}

TEST(ArenaMemoryCheck, CpuRefusesMoreThanAvailable) {
  CpuBackend backend(testFigure);
  expectRefused(backend, 2 * kAvailable);
  expectRefused(backend, kAvailable);  // the guard does not fit either
  CpuBackend fits(testFigure);
  fits.allocateArena(kAvailable / 2);
}

TEST(ArenaMemoryCheck, DeviceBackendRefusesMoreThanAvailable) {
  cuda::DeviceBackend<SmallDevice> backend{SmallDevice{}};
  expectRefused(backend, 2 * kAvailable);
  cuda::DeviceBackend<SmallDevice> fits{SmallDevice{}};
  fits.allocateArena(kAvailable / 2);
}

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

// Whether an arena fits the memory that is free now, checked before it is allocated: the
// backends fill the whole arena with a canary (runtime/ArenaGuard.h), so an arena larger than
// what is free would push the machine into swap or the OOM killer, or fail in the middle of
// a cudaMalloc, instead of giving a clear error. The CPU backend (and the host emulation of
// the CUDA backend) ask the kernel's MemAvailable, the GPU cudaMemGetInfo's free bytes.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>

namespace lrc::runtime {

// What can be allocated now and where the figure comes from (for the error message); bytes
// 0 means unknown, and nothing is checked.
struct AvailableMemory {
  uint64_t bytes = 0;
  std::string source;
};

// MemAvailable of /proc/meminfo: the memory the kernel can hand out without swapping
// (free memory plus the caches it can drop), not the machine's physical memory.
inline AvailableMemory hostAvailableMemory() {
  std::ifstream meminfo("/proc/meminfo");
  for (std::string line; std::getline(meminfo, line);)
    if (line.rfind("MemAvailable:", 0) == 0)
      return {std::strtoull(line.c_str() + std::strlen("MemAvailable:"), nullptr, 10) * 1024,
              "MemAvailable in /proc/meminfo"};
  return {};
}

// Throws std::runtime_error, one line with both figures, when an arena allocation of
// `bytes` (the plan's arena with the backend's guard and rounding) exceeds `available`.
inline void checkArenaFits(uint64_t bytes, const AvailableMemory& available) {
  if (available.bytes > 0 && bytes > available.bytes)
    throw std::runtime_error("the arena needs " + std::to_string(bytes) + " bytes but only " +
                             std::to_string(available.bytes) + " are available (" + available.source + ")");
}

}  // namespace lrc::runtime

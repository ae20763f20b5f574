// How a backend measures the memory a run touched (Backend::measuredPeakBytes): the arena and
// a guard region after it start filled with a canary byte; afterwards the guard must be
// intact and the peak is 1 + the highest arena byte that differs from the canary. The CPU
// and CUDA backends share the constants and the two scans.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace lrc::runtime {

// Bytes after the arena that must stay untouched; the byte the arena starts filled with.
inline constexpr uint64_t kArenaGuardBytes = 4096;
inline constexpr unsigned char kArenaCanary = 0xA5;

// Throws std::runtime_error when a byte of the guard region (the `bytes` bytes right after
// the arena, in host memory) is not the canary.
inline void checkArenaGuard(const unsigned char* guard, uint64_t bytes) {
  for (uint64_t i = 0; i < bytes; ++i)
    if (guard[i] != kArenaCanary)
      throw std::runtime_error("a kernel wrote past the arena (byte " + std::to_string(i) + " after its end changed)");
}

// 1 + the index of the last of `bytes` bytes that is not the canary; 0 when all are.
inline uint64_t touchedBytes(const unsigned char* p, uint64_t bytes) {
  while (bytes > 0 && p[bytes - 1] == kArenaCanary) --bytes;
  return bytes;
}

}  // namespace lrc::runtime

// What the plan file (PlanFile.h) and lrc-run's checkpoint file (runtime/Checkpoint.h) both
// need to read and write their framing: little-endian numbers, zlib's CRC-32 over data that
// comes in pieces, and whole reads at an offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace lrc::plan {

template <class T>
void putLittleEndian(std::string& out, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

template <class T>
T getLittleEndian(const char* in) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(static_cast<unsigned char>(in[i])) << (8 * i);
  return v;
}

// CRC-32 (zlib) of more data, continuing `crc` (start with crc32Begin()).
uint32_t crc32Begin();
uint32_t crc32Add(uint32_t crc, const char* data, uint64_t size);
inline uint32_t crc32Of(std::string_view bytes) { return crc32Add(crc32Begin(), bytes.data(), bytes.size()); }

// Reads exactly `bytes` bytes of `fd` from `offset` on (pread, retried after EINTR and short
// reads). Returns 0; -1 with errno set when a read fails; 1 when the file ends first.
int readFullyAt(int fd, uint64_t offset, char* data, uint64_t bytes);

}  // namespace lrc::plan

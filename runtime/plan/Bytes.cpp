#include "runtime/plan/Bytes.h"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>

namespace lrc::plan {

uint32_t crc32Begin() { return static_cast<uint32_t>(crc32(0L, Z_NULL, 0)); }

uint32_t crc32Add(uint32_t crc, const char* data, uint64_t size) {
  uLong c = crc;
  while (size > 0) {  // zlib takes uInt lengths
    const uInt chunk = static_cast<uInt>(std::min<uint64_t>(size, 1u << 30));
    c = crc32(c, reinterpret_cast<const Bytef*>(data), chunk);
    data += chunk;
    size -= chunk;
  }
  return static_cast<uint32_t>(c);
}

int readFullyAt(int fd, uint64_t offset, char* data, uint64_t bytes) {
  while (bytes > 0) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(bytes, uint64_t{1} << 30));
    const ssize_t got = ::pread(fd, data, want, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return -1;
    if (got == 0) return 1;
    data += got;
    offset += static_cast<uint64_t>(got);
    bytes -= static_cast<uint64_t>(got);
  }
  return 0;
}

}  // namespace lrc::plan

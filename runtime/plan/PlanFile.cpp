#include "runtime/plan/PlanFile.h"

#include <zlib.h>

#include <cstring>
#include <stdexcept>

namespace lrc::plan {

namespace {

constexpr char kMagic[8] = {'L', 'R', 'C', 'P', 'L', 'A', 'N', '\0'};
constexpr size_t kHeaderBytes = 8 + 4 + 8;

template <class T>
void putLittleEndian(std::string& out, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

template <class T>
T getLittleEndian(const std::string& in, size_t at) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(static_cast<unsigned char>(in[at + i])) << (8 * i);
  return v;
}

uint32_t crc32Of(const char* data, size_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (size > 0) {  // zlib takes uInt lengths
    uInt chunk = static_cast<uInt>(std::min<size_t>(size, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data), chunk);
    data += chunk;
    size -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

}  // namespace

std::string encodePlanFile(const Plan& plan) {
  std::string payload;
  if (!plan.SerializeToString(&payload)) throw std::runtime_error("cannot serialize the plan (over 2 GiB?)");
  std::string out(kMagic, sizeof kMagic);
  putLittleEndian<uint32_t>(out, kPlanVersion);
  putLittleEndian<uint64_t>(out, payload.size());
  out += payload;
  putLittleEndian<uint32_t>(out, crc32Of(payload.data(), payload.size()));
  return out;
}

Plan decodePlanFile(const std::string& bytes, const std::string& path) {
  auto fail = [&](const std::string& what) { return std::runtime_error(path + ": " + what); };
  if (bytes.size() < sizeof kMagic || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    throw fail("not an lrc plan (no LRCPLAN header)");
  if (bytes.size() < kHeaderBytes) throw fail("truncated plan (header cut short)");
  uint32_t version = getLittleEndian<uint32_t>(bytes, 8);
  if (version != kPlanVersion)
    throw fail("plan format version " + std::to_string(version) + ", this lrc-run reads version " +
               std::to_string(kPlanVersion) + ": recompile the model");
  uint64_t size = getLittleEndian<uint64_t>(bytes, 12);
  if (size > bytes.size() - kHeaderBytes || bytes.size() - kHeaderBytes - size < 4)
    throw fail("truncated plan (" + std::to_string(bytes.size()) + " bytes, the header announces " +
               std::to_string(kHeaderBytes + size + 4) + ")");
  if (bytes.size() - kHeaderBytes - size > 4) throw fail("trailing bytes after the plan");
  const char* payload = bytes.data() + kHeaderBytes;
  if (crc32Of(payload, size) != getLittleEndian<uint32_t>(bytes, kHeaderBytes + size))
    throw fail("corrupt plan (checksum mismatch)");
  Plan plan;
  if (!plan.ParseFromArray(payload, static_cast<int>(size))) throw fail("corrupt plan (undecodable payload)");
  return plan;
}

}  // namespace lrc::plan

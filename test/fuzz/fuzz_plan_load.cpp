// libFuzzer target: plan files (lrc-run's input). A plan file is framed with checksums, so
// most mutations would only ever meet the framing check; an input that starts with the
// frame's magic therefore has its two checksums recomputed before decoding (its lengths and
// payload stay as the fuzzer made them), and the rest are decoded as they are. What decodes
// is validated against the CPU backend and prepared step by step, as lrc-run does before it
// allocates the arena; nothing runs (an input may ask for any arena size).
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "runtime/PlanChecks.h"
#include "runtime/PreparedStep.h"
#include "runtime/cpu/CpuBackend.h"
#include "runtime/plan/PlanFile.h"
#include "runtime/plan/QuietProtobuf.h"
#include "test/fuzz/FuzzCommon.h"

namespace {

// Frame layout (runtime/plan/PlanFile.h): magic[8], version u32, payload bytes u64, weights
// bytes u64, payload, crc32 u32, weights, crc32 u32; little-endian.
constexpr size_t kHeader = 8 + 4 + 8 + 8;

uint64_t readLe(const std::string& b, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = bytes; i-- > 0;) v = (v << 8) | static_cast<unsigned char>(b[at + static_cast<size_t>(i)]);
  return v;
}

void writeLe(std::string& b, size_t at, uint64_t v) {
  for (int i = 0; i < 4; ++i) b[at + static_cast<size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
}

uint32_t crc(const std::string& b, size_t at, uint64_t bytes) {
  return static_cast<uint32_t>(crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(b.data() + at), static_cast<uInt>(bytes)));
}

// Recomputes both checksums in place when the lengths fit the input.
void fixChecksums(std::string& b) {
  if (b.size() < kHeader || std::memcmp(b.data(), "LRCPLAN", 8) != 0) return;
  const uint64_t payload = readLe(b, 12, 8), weights = readLe(b, 20, 8);
  if (payload > b.size() || weights > b.size() || kHeader + payload + 4 + weights + 4 != b.size()) return;
  writeLe(b, kHeader + payload, crc(b, kHeader, payload));
  writeLe(b, kHeader + payload + 4 + weights, crc(b, kHeader + payload + 4, weights));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  LRC_QUIET_PROTOBUF;
  static const lrc::runtime::CpuBackend backend;
  std::string bytes(reinterpret_cast<const char*>(data), size);
  fixChecksums(bytes);
  lrc::fuzz::expectCleanError("fuzz_plan_load", [&] {
    lrc::plan::DecodedPlanFile decoded = lrc::plan::decodePlanFile(bytes, "fuzz.plan");
    lrc::runtime::validatePlan(decoded.plan, decoded.weights.size(), "fuzz.plan", backend);
    lrc::runtime::preparePlan(decoded.plan);
  });
  return 0;
}

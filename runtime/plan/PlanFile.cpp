#include "runtime/plan/PlanFile.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <utility>

#include "runtime/plan/Bytes.h"

namespace lrc::plan {

namespace {

constexpr char kMagic[8] = {'L', 'R', 'C', 'P', 'L', 'A', 'N', '\0'};
constexpr uint64_t kHeaderBytes = 8 + 4 + 8 + 8;  // magic, version, payload size, weights size
constexpr uint64_t kCrcBytes = 4;

// Where the parts of a file lie, from its header (checked against the file's size).
struct Layout {
  uint64_t payloadStart = kHeaderBytes, payloadBytes = 0;
  uint64_t weightsStart = 0, weightsBytes = 0;
  uint64_t payloadCrcAt() const { return payloadStart + payloadBytes; }
  uint64_t weightsCrcAt() const { return weightsStart + weightsBytes; }
};

// `head`: the file's first min(kHeaderBytes, fileBytes) bytes. `fail` throws.
template <class Fail>
Layout checkHeader(std::string_view head, uint64_t fileBytes, const Fail& fail) {
  if (head.size() < sizeof kMagic || std::memcmp(head.data(), kMagic, sizeof kMagic) != 0)
    fail("not an lrc plan (no LRCPLAN header)");
  if (head.size() < kHeaderBytes) fail("truncated plan (header cut short)");
  const uint32_t version = getLittleEndian<uint32_t>(head.data() + 8);
  if (version != kPlanVersion)
    fail("plan format version " + std::to_string(version) + ", this lrc-run reads version " +
         std::to_string(kPlanVersion) + ": recompile the model");
  Layout l;
  l.payloadBytes = getLittleEndian<uint64_t>(head.data() + 12);
  l.weightsBytes = getLittleEndian<uint64_t>(head.data() + 20);
  l.weightsStart = l.payloadStart + l.payloadBytes + kCrcBytes;
  // The size the header announces, saturated (absurd sizes are truncation too).
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  const uint64_t fixed = kHeaderBytes + 2 * kCrcBytes;
  const bool huge = l.payloadBytes > kMax - fixed || l.weightsBytes > kMax - fixed - l.payloadBytes;
  const uint64_t announced = huge ? kMax : fixed + l.payloadBytes + l.weightsBytes;
  const std::string sizes =
      std::to_string(fileBytes).append(" bytes, the header announces ").append(std::to_string(announced));
  if (fileBytes < announced) fail("truncated plan (" + sizes + ")");
  if (fileBytes > announced) fail("trailing bytes after the plan (" + sizes + ")");
  return l;
}

template <class Fail>
Plan parsePayload(const char* data, uint64_t size, const Fail& fail) {
  if (size > static_cast<uint64_t>(INT_MAX)) fail("corrupt plan (payload over 2 GiB)");
  Plan plan;
  if (!plan.ParseFromArray(data, static_cast<int>(size))) fail("corrupt plan (undecodable payload)");
  return plan;
}

const char* kChecksumMismatch = "corrupt plan (checksum mismatch)";

}  // namespace

std::string encodePlanFile(const Plan& plan, std::string_view weights) {
  std::string payload;
  if (!plan.SerializeToString(&payload)) throw std::runtime_error("cannot serialize the plan (over 2 GiB?)");
  std::string out(kMagic, sizeof kMagic);
  out.reserve(kHeaderBytes + payload.size() + weights.size() + 2 * kCrcBytes);
  putLittleEndian<uint32_t>(out, kPlanVersion);
  putLittleEndian<uint64_t>(out, payload.size());
  putLittleEndian<uint64_t>(out, weights.size());
  out += payload;
  putLittleEndian<uint32_t>(out, crc32Of(payload));
  out += weights;
  putLittleEndian<uint32_t>(out, crc32Of(weights));
  return out;
}

void MemoryWeights::stream(const Sink& sink) const {
  for (uint64_t at = 0; at < bytes_.size(); at += kChunkBytes)
    sink(at, bytes_.data() + at, std::min<uint64_t>(kChunkBytes, bytes_.size() - at));
}

// ---- PlanFile ----

PlanFile::PlanFile(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) failRead();
  struct stat st {};
  if (::fstat(fd_, &st) != 0) failRead();
  if (S_ISDIR(st.st_mode)) {
    errno = EISDIR;
    failRead();
  }
  if (!S_ISREG(st.st_mode)) fail("cannot read: not a regular file");
  const uint64_t fileBytes = static_cast<uint64_t>(st.st_size);

  char head[kHeaderBytes];
  const uint64_t headBytes = std::min<uint64_t>(kHeaderBytes, fileBytes);
  readAt(0, head, headBytes);
  auto failWith = [this](const std::string& what) { fail(what); };
  const Layout l = checkHeader(std::string_view(head, headBytes), fileBytes, failWith);
  weightsStart_ = l.weightsStart;
  weightsBytes_ = l.weightsBytes;
  char crc[kCrcBytes];
  readAt(l.weightsCrcAt(), crc, kCrcBytes);
  weightsCrc_ = getLittleEndian<uint32_t>(crc);

  // The payload is the only part held in memory, and only until it is decoded.
  std::string payload(l.payloadBytes + kCrcBytes, '\0');
  readAt(l.payloadStart, payload.data(), payload.size());
  if (crc32Add(crc32Begin(), payload.data(), l.payloadBytes) !=
      getLittleEndian<uint32_t>(payload.data() + l.payloadBytes))
    fail(kChecksumMismatch);
  payloadCrc_ = getLittleEndian<uint32_t>(payload.data() + l.payloadBytes);
  plan_ = parsePayload(payload.data(), l.payloadBytes, failWith);
}

PlanFile::~PlanFile() {
  if (fd_ >= 0) ::close(fd_);
}

PlanFile::PlanFile(PlanFile&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      plan_(std::move(other.plan_)),
      weightsStart_(other.weightsStart_),
      weightsBytes_(other.weightsBytes_),
      weightsCrc_(other.weightsCrc_),
      payloadCrc_(other.payloadCrc_) {}

void PlanFile::fail(const std::string& what) const {
  std::string message = path_;
  throw std::runtime_error(message.append(": ").append(what));
}

void PlanFile::failRead() const {
  std::string reason = std::strerror(errno);
  fail("cannot read: " + reason);
}

void PlanFile::readAt(uint64_t offset, char* data, uint64_t bytes) const {
  const int read = readFullyAt(fd_, offset, data, bytes);
  if (read < 0) failRead();
  if (read > 0) fail("truncated plan (the file shrank while being read)");
}

void PlanFile::stream(const Sink& sink) const {
  if (weightsBytes_ > 0)
    ::posix_fadvise(fd_, static_cast<off_t>(weightsStart_), static_cast<off_t>(weightsBytes_),
                    POSIX_FADV_SEQUENTIAL);
  // The one buffer the weights pass through on their way from the file to the arena.
  const uint64_t bufferBytes = std::min(kChunkBytes, weightsBytes_);
  std::unique_ptr<char[]> buffer(new char[std::max<uint64_t>(bufferBytes, 1)]);
  uint32_t crc = crc32Begin();
  for (uint64_t at = 0; at < weightsBytes_; at += bufferBytes) {
    const uint64_t n = std::min(bufferBytes, weightsBytes_ - at);
    readAt(weightsStart_ + at, buffer.get(), n);
    crc = crc32Add(crc, buffer.get(), n);
    sink(at, buffer.get(), n);
  }
  if (crc != weightsCrc_) fail(kChecksumMismatch);
}

// ---- in memory ----

DecodedPlanFile decodePlanFile(const std::string& bytes, const std::string& path) {
  auto fail = [&](const std::string& what) {
    std::string message = path;
    throw std::runtime_error(message.append(": ").append(what));
  };
  const Layout l =
      checkHeader(std::string_view(bytes).substr(0, std::min<uint64_t>(kHeaderBytes, bytes.size())), bytes.size(), fail);
  const std::string_view payload(bytes.data() + l.payloadStart, l.payloadBytes);
  const std::string_view weights(bytes.data() + l.weightsStart, l.weightsBytes);
  if (crc32Of(payload) != getLittleEndian<uint32_t>(bytes.data() + l.payloadCrcAt()) ||
      crc32Of(weights) != getLittleEndian<uint32_t>(bytes.data() + l.weightsCrcAt()))
    fail(kChecksumMismatch);
  return {parsePayload(payload.data(), payload.size(), fail), weights};
}

}  // namespace lrc::plan

// The plan file's framing around the Protobuf message and the initial weights, so that a
// truncated or corrupted file is always recognised as such (docs/plan-format.md):
//   8 bytes  magic "LRCPLAN\0"
//   4 bytes  format version (= kPlanVersion)
//   8 bytes  payload size N
//   8 bytes  weights size W
//   N bytes  payload: the serialized lrc.plan.Plan, without the weights
//   4 bytes  CRC-32 (zlib) of the payload
//   W bytes  weights: the initial data the plan's inits point into
//   4 bytes  CRC-32 (zlib) of the weights
// All numbers little-endian. Every size is in the fixed header, so a truncated file is
// known from its size alone; the payload's checksum is checked before it is decoded, the
// weights' while they are streamed into the arena (they are never held in memory whole).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "runtime/plan/Plan.h"

namespace lrc::plan {

// `weights` is the weights section the plan's inits point into.
std::string encodePlanFile(const Plan& plan, std::string_view weights);

// Where a plan's initial data comes from: its file's weights section (PlanFile), or memory
// (MemoryWeights: plans made in-process, tests).
class WeightSource {
 public:
  // Receives the section in order: `bytes` bytes from `offset` of the section on.
  using Sink = std::function<void(uint64_t offset, const char* data, uint64_t bytes)>;

  virtual ~WeightSource() = default;
  virtual uint64_t size() const = 0;
  // Passes the whole section to `sink` once, in order, in chunks of at most kChunkBytes.
  // Throws std::runtime_error("PATH: ...") when it cannot read it or, after the last chunk,
  // when the section's checksum does not match: what the sink got must then be discarded.
  virtual void stream(const Sink& sink) const = 0;

  static constexpr uint64_t kChunkBytes = uint64_t{1} << 20;
};

class MemoryWeights final : public WeightSource {
 public:
  explicit MemoryWeights(std::string_view bytes) : bytes_(bytes) {}
  uint64_t size() const override { return bytes_.size(); }
  void stream(const Sink& sink) const override;

 private:
  std::string_view bytes_;
};

// A plan file open for reading: the constructor checks the framing against the file's size,
// reads the payload (only), checks its checksum and decodes it; stream() reads the weights
// section from the file through one chunk-sized buffer and checks its checksum. Throws
// std::runtime_error("PATH: ...") naming what is wrong (cannot read, not a plan, other
// version, truncated, trailing bytes, checksum mismatch, undecodable payload). Does not check
// the plan's contents: the runtime's loader validates those.
class PlanFile final : public WeightSource {
 public:
  explicit PlanFile(const std::string& path);
  ~PlanFile() override;
  PlanFile(PlanFile&& other) noexcept;
  PlanFile& operator=(PlanFile&&) = delete;
  PlanFile(const PlanFile&) = delete;
  PlanFile& operator=(const PlanFile&) = delete;

  const std::string& path() const { return path_; }
  const Plan& plan() const { return plan_; }
  uint64_t size() const override { return weightsBytes_; }
  void stream(const Sink& sink) const override;
  // The file's two checksums (plan payload, weights section): a plan file's identity, which
  // the ranks of a data-parallel job compare.
  uint64_t identity() const { return uint64_t{payloadCrc_} << 32 | weightsCrc_; }

 private:
  std::string path_;
  int fd_ = -1;
  Plan plan_;
  uint64_t weightsStart_ = 0, weightsBytes_ = 0;  // where the section lies in the file
  uint32_t weightsCrc_ = 0;                        // its checksum, from the file
  uint32_t payloadCrc_ = 0;                        // the payload's, checked

  [[noreturn]] void fail(const std::string& what) const;
  [[noreturn]] void failRead() const;  // "PATH: cannot read: <errno text>"
  void readAt(uint64_t offset, char* data, uint64_t bytes) const;
};

// A plan file's bytes in memory (tests): the framing and both checksums checked, the payload
// decoded. `weights` views the section inside `bytes`. Throws like PlanFile.
struct DecodedPlanFile {
  Plan plan;
  std::string_view weights;
};
DecodedPlanFile decodePlanFile(const std::string& bytes, const std::string& path);

}  // namespace lrc::plan

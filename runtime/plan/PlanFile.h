// The plan file's framing around the Protobuf message, so that a truncated or corrupted
// file is always recognised as such before anything reads it:
//   8 bytes  magic "LRCPLAN\0"
//   4 bytes  format version (little-endian u32, = kPlanVersion)
//   8 bytes  payload size N (little-endian u64)
//   N bytes  payload: the serialized lrc.plan.Plan
//   4 bytes  CRC-32 (zlib) of the payload
#pragma once

#include <string>

#include "runtime/plan/Plan.h"

namespace lrc::plan {

std::string encodePlanFile(const Plan& plan);

// Throws std::runtime_error("PATH: ...") naming what is wrong (not a plan, other version,
// truncated, checksum mismatch, undecodable payload). Does not check the plan's contents:
// the runtime's loader validates those.
Plan decodePlanFile(const std::string& bytes, const std::string& path);

}  // namespace lrc::plan

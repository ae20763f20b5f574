// The plan file's generated classes, its version, and its text form.
#pragma once

#include <cstdint>
#include <string>

#include "runtime/plan/plan.pb.h"

namespace lrc::plan {

// Bumped on every incompatible change to plan.proto's meaning; loaders reject others.
constexpr uint32_t kPlanVersion = 3;
constexpr uint64_t kPlanAlignment = 64;

// Readable text of a plan (lrc-compile --emit plan): header, memory by role, buffers,
// both programs step by step, and a summary of the initial data (not the data itself).
std::string printPlan(const Plan& p);

// "f32[8,3,224,224]"
std::string bufferType(const Buffer& b);

// A band's rows, " rows [16,24) of 224" (with a leading space), or "" for a whole tensor.
std::string bandText(const Buffer& b);

}  // namespace lrc::plan

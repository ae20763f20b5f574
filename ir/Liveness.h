// When each buffer of a module is live, in op indices. Shared by the plan-memory pass
// (which packs buffers) and the verifier (which checks the packing): one definition of
// "live" for both.
#pragma once

#include <vector>

#include "ir/IR.h"

namespace lrc::ir {

// Every buffer starts on this boundary (cache lines, SIMD loads).
constexpr int64_t kArenaAlignment = 64;

// One buffer: a value, or an op's scratch space. Live over ops [first, last] inclusive.
// Inputs and globals live over the whole step; results from their op to their last use
// (to the end for module outputs). An op's operands and results overlap at that op, so a
// result never shares memory with an operand (kernels are not in place).
struct LiveBuffer {
  Value* value = nullptr;  // null for scratch
  Op* scratchOf = nullptr;
  int64_t first = 0, last = 0;
  int64_t bytes = 0;
  int64_t offset = -1;
  std::string describe() const;  // `%name` or `scratch of conv2d %name`
};

std::vector<LiveBuffer> liveBuffers(const Module& m);

// Two buffers conflict when both their live ranges and their byte ranges intersect.
bool conflicts(const LiveBuffer& a, const LiveBuffer& b);

// The arena size: the end of the highest placed buffer.
int64_t arenaBytes(const Module& m);

}  // namespace lrc::ir

// Dropout's mask, shared by both backends bit for bit: element i of a step is kept when
// dropout_hash(seed, step, i) < dropout_keep_threshold(ratio), a counter-based hash, so any
// sub-range of elements can be recomputed identically, which strips rely on when they
// recompute the forward during backward.
#pragma once

#include <cmath>
#include <cstdint>

#include "runtime/kernels/Portable.h"

namespace lrc::kernels {

LRC_HD inline uint64_t dropout_mix(uint64_t z) {  // splitmix64's finalizer
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
LRC_HD inline uint32_t dropout_hash(uint64_t seed, uint64_t step, uint64_t index) {
  const uint64_t key = dropout_mix(dropout_mix(seed) ^ (step * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull));
  return static_cast<uint32_t>(dropout_mix(key + (index + 1) * 0x9E3779B97F4A7C15ull) >> 32);
}

// 2^32 * (1 - ratio), rounded; 2^32 (keep all) for ratio 0, 0 (drop all) for ratio 1.
inline uint64_t dropout_keep_threshold(float ratio) {
  return static_cast<uint64_t>(std::llround((1.0 - static_cast<double>(ratio)) * 4294967296.0));
}

// A Dropout step's attributes; the run's --seed is mixed into `seed` when the step runs.
struct DropoutParams {
  float ratio = 0.0f;
  uint64_t seed = 0;      // the plan's
  bool training = false;  // otherwise the step copies its operand
};

// What a kept element is multiplied by: 1 / (1 - ratio), 0 when everything is dropped.
LRC_HD inline float dropout_keep_scale(float ratio) { return ratio < 1.0f ? 1.0f / (1.0f - ratio) : 0.0f; }

}  // namespace lrc::kernels

// The random draws of the data path, bit-exact on every platform: the standard library's
// distributions are unspecified, so the loaders draw through these instead.
#pragma once

#include <cstdint>

namespace lrc::data {

// A uniform draw from [0, n), n > 0: rejects r < 2^64 mod n, so it is unbiased and does not
// depend on the standard library (std::uniform_int_distribution's algorithm is unspecified).
template <class Rng>
uint64_t uniformBelow(Rng& rng, uint64_t n) {
  const uint64_t threshold = (0 - n) % n;  // 2^64 mod n
  for (;;) {
    const uint64_t r = rng();
    if (r >= threshold) return r % n;
  }
}

// A uniform double in [0, 1) from the top 53 bits of one draw.
template <class Rng>
double uniformUnit(Rng& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

inline uint64_t mix(uint64_t z) {  // SplitMix64's finalizer
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// SplitMix64: a tiny generator whose streams are keyed by mixing integers into the state,
// so a sample's draws depend on its key alone, not on which thread or in what order it runs.
struct SplitMix64 {
  uint64_t state;
  uint64_t operator()() { return mix(state += 0x9e3779b97f4a7c15ull); }
};

}  // namespace lrc::data

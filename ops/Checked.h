// Integer arithmetic that notices overflow, for every element count, byte size, arena offset
// and work count lrc computes. Their factors come from models, IR text, plan files and flags:
// a product that wraps would pass every later check as a small or negative size (a plan for
// --batch 2^62 had an image of 0 bytes). Depends on nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace lrc::ops {

// An int64 that remembers whether any step computing it overflowed. Plain integers convert
// to it, so `Checked(n) * c * h * w` checks every product.
class Checked {
 public:
  constexpr Checked(int64_t v) : value_(v) {}  // NOLINT: implicit by design

  friend constexpr Checked operator+(Checked a, Checked b) {
    Checked r(0);
    r.overflow_ = a.overflow_ || b.overflow_ || __builtin_add_overflow(a.value_, b.value_, &r.value_);
    return r;
  }
  friend constexpr Checked operator*(Checked a, Checked b) {
    Checked r(0);
    r.overflow_ = a.overflow_ || b.overflow_ || __builtin_mul_overflow(a.value_, b.value_, &r.value_);
    return r;
  }
  Checked& operator+=(Checked o) { return *this = *this + o; }
  Checked& operator*=(Checked o) { return *this = *this * o; }

  // nullopt when a step overflowed.
  constexpr std::optional<int64_t> value() const {
    return overflow_ ? std::nullopt : std::optional<int64_t>(value_);
  }

 private:
  int64_t value_;
  bool overflow_ = false;
};

// The product of `dims` (1 for none): a tensor's element count.
inline Checked product(const std::vector<int64_t>& dims) {
  Checked n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

}  // namespace lrc::ops

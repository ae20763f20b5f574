// A data-parallel job of two ranks as seen from rank 0, for kernel tests without MPI: the
// other rank's tensors hold otherValue(i) at element i, and its BatchNorm sums equal this
// rank's (its map is the same), so that synchronised statistics are known exactly. The
// average is applied when a bucket starts (one-step plans cannot hold the wait); wait()
// counts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/Collective.h"

namespace lrc::runtime::testing {

class FakeTwoRanks final : public Collective {
 public:
  static float otherValue(int64_t i) { return -0.5f + 0.01f * static_cast<float>(i % 97); }

  int rank() const override { return 0; }
  int size() const override { return 2; }
  void startAverage(int bucket, float* data, int64_t count) override {
    started_.push_back({bucket, data, count});
    ++started;
  }
  void wait(int bucket) override {
    for (const Started& s : started_)
      if (s.bucket == bucket)
        for (int64_t i = 0; i < s.count; ++i) s.data[i] = (s.data[i] + otherValue(i)) * 0.5f;
    std::erase_if(started_, [&](const Started& s) { return s.bucket == bucket; });
    ++waited;
  }
  void progress() override {}
  void sumNow(double* data, int64_t count) override {
    for (int64_t i = 0; i < count; ++i) data[i] *= 2;
  }
  void broadcastFromRank0(void*, int64_t) override {}
  void checkSame(uint64_t, const std::string&) override {}

  int started = 0, waited = 0;

 private:
  struct Started {
    int bucket;
    float* data;
    int64_t count;
  };
  std::vector<Started> started_;
};

// A job of one rank: averages and sums leave their tensors as they are.
class FakeOneRank final : public Collective {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void startAverage(int, float*, int64_t) override {}
  void wait(int) override {}
  void progress() override {}
  void sumNow(double*, int64_t) override {}
  void broadcastFromRank0(void*, int64_t) override {}
  void checkSame(uint64_t, const std::string&) override {}
};

}  // namespace lrc::runtime::testing

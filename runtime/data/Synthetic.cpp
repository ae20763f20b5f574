// synthetic — reproducible random samples of the plan's shape, computed on demand (nothing
// is stored, so any image size costs no memory). Sample i of a split draws from its own
// SplitMix64 stream keyed by (seed, split, i): first its label, then one noise value per
// pixel. The noise is the sum of four 16-bit uniforms, centered and scaled to unit variance:
// normal-ish and bit-exact on every platform. Each class adds its own fixed +-0.5 pattern
// (the same for every seed and split), so the labels can be learned.
#include "runtime/data/Loaders.h"

namespace lrc::data {
namespace {

constexpr int64_t kTrainSamples = 1024;
constexpr int64_t kTestSamples = 256;
constexpr float kPatternAmplitude = 0.5f;

class SyntheticDataset final : public Dataset {
 public:
  SyntheticDataset(Split split, Shape shape, int64_t classes, uint64_t seed)
      : split_(split), shape_(shape), classes_(classes), seed_(seed) {}

  int64_t size() const override { return split_ == Split::Train ? kTrainSamples : kTestSamples; }
  std::array<int64_t, 3> sampleShape() const override { return shape_; }
  int64_t numClasses() const override { return classes_; }
  std::string describe() const override {
    std::string s = summary("synthetic", splitName(split_), size(), shape_, classes_);
    return s.insert(s.size() - 1, ", seed " + std::to_string(seed_));
  }

  int64_t get(int64_t index, float* chw) const override {
    checkIndex(*this, index);
    SplitMix64 rng{mix(mix(mix(seed_) + (split_ == Split::Train ? 1 : 2)) + static_cast<uint64_t>(index))};
    const int64_t label = static_cast<int64_t>(uniformBelow(rng, static_cast<uint64_t>(classes_)));
    const uint64_t patternKey = mix(0x5eed0f1a55e5ull + static_cast<uint64_t>(label));
    const int64_t count = shape_[0] * shape_[1] * shape_[2];
    for (int64_t i = 0; i < count; ++i) {
      const uint64_t r = rng();
      // Four uniforms on [0, 65535]: mean 2 * 65535, variance 4 * (65536^2 - 1) / 12.
      const int64_t sum = static_cast<int64_t>((r & 0xffff) + (r >> 16 & 0xffff) + (r >> 32 & 0xffff) + (r >> 48));
      const float noise = static_cast<float>(sum - 2 * 65535) * (1.7320508f / 65536.0f);
      const float pattern = (mix(patternKey + static_cast<uint64_t>(i)) & 1) ? kPatternAmplitude : -kPatternAmplitude;
      chw[i] = pattern + noise;
    }
    return label;
  }

 private:
  Split split_;
  Shape shape_;
  int64_t classes_;
  uint64_t seed_;
};

}  // namespace

std::unique_ptr<Dataset> openSynthetic(Split split, const Shape& shape, int64_t classes, uint64_t seed) {
  return std::make_unique<SyntheticDataset>(split, shape, classes, seed);
}

}  // namespace lrc::data

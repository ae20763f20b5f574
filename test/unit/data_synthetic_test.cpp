// synthetic: reproducible samples of the plan's shape, 1024 for Train and 256 for Test,
// labels uniform over the classes, unit-variance noise around a learnable class pattern.
#include <cmath>

#include "runtime/data/Dataset.h"
#include "test/unit/data_test_util.h"

namespace lrc::data {
namespace {

using namespace testing;

TEST(DataSynthetic, SizesShapeAndDescription) {
  auto train = openDataset("synthetic", Split::Train, {3, 5, 7}, 10, 1);
  auto test = openDataset("synthetic", Split::Test, {3, 5, 7}, 10, 1);
  EXPECT_EQ(train->size(), 1024);
  EXPECT_EQ(test->size(), 256);
  EXPECT_EQ(train->sampleShape(), (std::array<int64_t, 3>{3, 5, 7}));
  EXPECT_EQ(train->numClasses(), 10);
  EXPECT_EQ(train->describe(), "synthetic (train, 1024 images 3x5x7, 10 classes, seed 1)");
  std::vector<float> img(105);
  expectDataError([&] { test->get(256, img.data()); }, {"sample 256 is outside [0, 256)"});
}

TEST(DataSynthetic, SamplesDependOnSeedSplitAndIndexOnly) {
  const std::array<int64_t, 3> shape{1, 4, 4};
  auto a = openDataset("synthetic", Split::Train, shape, 3, 9);
  auto b = openDataset("synthetic", Split::Train, shape, 3, 9);
  auto otherSeed = openDataset("synthetic", Split::Train, shape, 3, 10);
  auto test = openDataset("synthetic", Split::Test, shape, 3, 9);
  std::vector<float> x(16), y(16);
  for (int64_t i : {0, 5, 1023}) {
    const int64_t la = a->get(i, x.data());
    EXPECT_EQ(b->get(i, y.data()), la);
    EXPECT_EQ(x, y);
    EXPECT_EQ(a->get(i, y.data()), la);  // again: no hidden state
    EXPECT_EQ(x, y);
    otherSeed->get(i, y.data());
    EXPECT_NE(x, y);
    if (i < 256) {
      test->get(i, y.data());
      EXPECT_NE(x, y);
    }
  }
}

TEST(DataSynthetic, LabelsAreUniformAndPixelsNormalish) {
  const int64_t classes = 4;
  auto data = openDataset("synthetic", Split::Train, {1, 8, 8}, classes, 123);
  std::vector<int64_t> counts(classes);
  std::vector<std::vector<double>> classMean(classes, std::vector<double>(64));
  std::vector<float> img(64);
  double sum = 0, sumSq = 0;
  for (int64_t i = 0; i < data->size(); ++i) {
    const int64_t label = data->get(i, img.data());
    ASSERT_GE(label, 0);
    ASSERT_LT(label, classes);
    ++counts[static_cast<size_t>(label)];
    for (int k = 0; k < 64; ++k) {
      sum += img[k];
      sumSq += img[k] * img[k];
      classMean[static_cast<size_t>(label)][static_cast<size_t>(k)] += img[k];
    }
  }
  for (int64_t c : counts) EXPECT_NEAR(c, 256, 60);
  const double n = 1024.0 * 64;
  EXPECT_NEAR(sum / n, 0.0, 0.05);
  EXPECT_NEAR(sumSq / n, 1.25, 0.05);  // noise 1 + pattern 0.5^2
  // Each class's mean image is its +-0.5 pattern.
  for (int64_t c = 0; c < classes; ++c) {
    int nearPattern = 0;
    for (double m : classMean[static_cast<size_t>(c)]) {
      m /= static_cast<double>(counts[static_cast<size_t>(c)]);
      if (std::abs(std::abs(m) - 0.5) < 0.25) ++nearPattern;
    }
    EXPECT_GE(nearPattern, 60) << "class " << c;
  }
}

}  // namespace
}  // namespace lrc::data

// BatchLoader: fixed-size batches, the tail of each epoch dropped (or padded, for
// evaluation), every epoch a permutation given by the documented Fisher-Yates over
// std::mt19937_64(seed + epoch); worker threads that change nothing but when batches are made.
#include <algorithm>
#include <cstring>
#include <random>
#include <set>

#include "runtime/data/BatchLoader.h"
#include "test/unit/data_test_util.h"

namespace lrc::data {
namespace {

using namespace testing;

// Sample i: label i, pixels i + 0.5 * k.
class CountingDataset final : public Dataset {
 public:
  explicit CountingDataset(int64_t n) : n_(n) {}
  int64_t size() const override { return n_; }
  std::array<int64_t, 3> sampleShape() const override { return {1, 1, 2}; }
  int64_t numClasses() const override { return n_; }
  int64_t get(int64_t index, float* chw) const override {
    chw[0] = static_cast<float>(index);
    chw[1] = static_cast<float>(index) + 0.5f;
    return index;
  }
  std::string describe() const override { return "counting"; }

 private:
  int64_t n_;
};

// The order of one epoch: the batches' labels, checking the images match them.
std::vector<int64_t> epochOrder(BatchLoader& loader, int64_t batch) {
  std::vector<int64_t> order;
  const int64_t e = loader.epoch();
  for (int64_t b = 0; b < loader.batchesPerEpoch(); ++b) {
    EXPECT_EQ(loader.epoch(), e);
    EXPECT_EQ(loader.batchInEpoch(), b);
    const Batch next = loader.next();
    EXPECT_EQ(next.samples, batch);
    for (int64_t i = 0; i < batch; ++i) {
      EXPECT_EQ(next.images[2 * i], static_cast<float>(next.labels[i]));
      EXPECT_EQ(next.images[2 * i + 1], static_cast<float>(next.labels[i]) + 0.5f);
      order.push_back(next.labels[i]);
    }
  }
  EXPECT_EQ(loader.epoch(), e + 1);
  EXPECT_EQ(loader.batchInEpoch(), 0);
  return order;
}

// The documented shuffle, written out again.
std::vector<int64_t> referenceOrder(int64_t n, uint64_t seed) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  std::mt19937_64 rng(seed);
  for (uint64_t i = static_cast<uint64_t>(n) - 1; i > 0; --i) {
    const uint64_t bound = i + 1, threshold = (0 - bound) % bound;
    uint64_t r;
    do r = rng();
    while (r < threshold);
    std::swap(order[i], order[r % bound]);
  }
  return order;
}

TEST(DataBatchLoader, EpochsArePermutationsWithTheTailDropped) {
  CountingDataset data(103);
  BatchLoader loader(data, 10, {.seed = 42});
  EXPECT_EQ(loader.batchSize(), 10);
  EXPECT_EQ(loader.batchesPerEpoch(), 10);
  std::vector<std::vector<int64_t>> epochs;
  for (int e = 0; e < 3; ++e) {
    epochs.push_back(epochOrder(loader, 10));
    const std::vector<int64_t>& order = epochs.back();
    ASSERT_EQ(order.size(), 100u);
    EXPECT_EQ(std::set<int64_t>(order.begin(), order.end()).size(), 100u);  // no repeats
    EXPECT_TRUE(std::all_of(order.begin(), order.end(), [](int64_t i) { return i >= 0 && i < 103; }));
    std::vector<int64_t> full = referenceOrder(103, 42 + static_cast<uint64_t>(e));
    EXPECT_EQ(order, std::vector<int64_t>(full.begin(), full.begin() + 100)) << "epoch " << e;
  }
  EXPECT_NE(epochs[0], epochs[1]);
  EXPECT_NE(epochs[1], epochs[2]);
}

TEST(DataBatchLoader, TheOrderDependsOnTheSeedOnly) {
  CountingDataset data(64);
  BatchLoader a(data, 8, {.seed = 7}), b(data, 8, {.seed = 7}), c(data, 8, {.seed = 8});
  const std::vector<int64_t> a0 = epochOrder(a, 8), b0 = epochOrder(b, 8), c0 = epochOrder(c, 8);
  EXPECT_EQ(a0, b0);
  EXPECT_NE(a0, c0);
  EXPECT_NE(a0, std::vector<int64_t>(a0.size()));
  // Epoch e of seed s is epoch 0 of seed s + e (the documented seed + e).
  EXPECT_EQ(epochOrder(a, 8), c0);
}

TEST(DataBatchLoader, WithoutShuffleEveryEpochIsInOrder) {
  CountingDataset data(7);
  BatchLoader loader(data, 3, {.shuffle = false, .seed = 1});
  EXPECT_EQ(loader.batchesPerEpoch(), 2);
  for (int e = 0; e < 3; ++e) EXPECT_EQ(epochOrder(loader, 3), (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
  BatchLoader whole(data, 7, {.shuffle = false, .seed = 1});
  EXPECT_EQ(epochOrder(whole, 7), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(epochOrder(whole, 7), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6}));
}

TEST(DataBatchLoader, ADataSetSmallerThanABatchIsRefused) {
  CountingDataset data(5);
  expectDataError([&] { BatchLoader(data, 6, {}); }, {"counting has 5 samples, fewer than one batch of 6"});
  expectDataError([&] { BatchLoader(data, 0, {}); }, {"batch size 0"});
}

// A loader sent to (epoch, batch) hands out what one that got there batch by batch does
// (lrc-run --resume).
TEST(DataBatchLoader, SeekContinuesWhereAnotherLoaderStood) {
  CountingDataset data(23);
  BatchLoader walked(data, 5, {.seed = 9});
  for (int i = 0; i < 4 * 2 + 3; ++i) walked.next();  // 4 batches per epoch
  ASSERT_EQ(walked.epoch(), 2);
  ASSERT_EQ(walked.batchInEpoch(), 3);
  BatchLoader sought(data, 5, {.seed = 9});
  sought.seek(2, 3);
  EXPECT_EQ(sought.epoch(), 2);
  EXPECT_EQ(sought.batchInEpoch(), 3);
  for (int i = 0; i < 6; ++i) {  // across the next epoch's start
    const Batch a = walked.next(), b = sought.next();
    EXPECT_TRUE(std::equal(a.labels, a.labels + 5, b.labels)) << "batch " << i;
    EXPECT_TRUE(std::equal(a.images, a.images + 10, b.images)) << "batch " << i;
  }
  EXPECT_EQ(sought.epoch(), walked.epoch());
  EXPECT_EQ(sought.batchInEpoch(), walked.batchInEpoch());
  expectDataError([&] { sought.seek(0, 4); }, {"cannot continue at batch 4 of epoch 0: counting has 4 batches of 5"});
  expectDataError([&] { sought.seek(-1, 0); }, {"batch 0 of epoch -1"});
}

TEST(DataBatchLoader, BatchesOfARealDataSet) {
  auto data = openDataset("synthetic", Split::Test, {2, 3, 3}, 4, 5);
  BatchLoader loader(*data, 100, {.seed = 3});
  EXPECT_EQ(loader.batchesPerEpoch(), 2);  // 256 samples: 56 dropped
  std::vector<float> one(18);
  const Batch batch = loader.next();
  const std::vector<int64_t> order = referenceOrder(256, 3);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(batch.labels[i], data->get(order[static_cast<size_t>(i)], one.data()));
    EXPECT_TRUE(std::equal(one.begin(), one.end(), batch.images + 18 * i));
  }
}

TEST(DataBatchLoader, APaddedEpochEndsWithThePartialBatchAndZeros) {
  CountingDataset data(7);
  BatchLoader loader(data, 3, {.shuffle = false, .padLastBatch = true, .workers = 2, .batches = 6});
  EXPECT_EQ(loader.batchesPerEpoch(), 3);
  for (int e = 0; e < 2; ++e) {
    for (int b = 0; b < 3; ++b) {
      const Batch batch = loader.next();
      EXPECT_EQ(batch.samples, b < 2 ? 3 : 1);
      for (int i = 0; i < 3; ++i) {
        const bool real = i < batch.samples;
        EXPECT_EQ(batch.labels[i], real ? 3 * b + i : 0);
        EXPECT_EQ(batch.images[2 * i + 1], real ? static_cast<float>(3 * b + i) + 0.5f : 0.0f);
      }
    }
  }
  expectDataError([&] { BatchLoader(CountingDataset(0), 3, {.padLastBatch = true}); }, {"counting has 0 samples"});
}

// Sample i: a 1 x (3 + i % 5) x (4 + i % 3) image, pixel k = i + k / 64, label i % 4; reading
// sample `bad` throws.
class VaryingDataset final : public Dataset {
 public:
  explicit VaryingDataset(int64_t bad = -1) : bad_(bad) {}
  int64_t size() const override { return 40; }
  Shape sampleShape() const override { return {1, 0, 0}; }
  int64_t numClasses() const override { return 4; }
  int64_t get(int64_t, float*) const override { throw std::logic_error("get() of a data set of various sizes"); }
  int64_t read(int64_t index, Image& image) const override {
    if (index == bad_) throw std::runtime_error("data: sample " + std::to_string(index) + " is corrupt");
    float* p = image.reshape({1, 3 + index % 5, 4 + index % 3});
    for (size_t k = 0; k < image.pixels.size(); ++k) p[k] = static_cast<float>(index) + static_cast<float>(k) / 64;
    return index % 4;
  }
  std::string describe() const override { return "varying"; }

 private:
  int64_t bad_;
};

// Every image and label of `batches` batches, as bytes.
std::vector<uint8_t> runBytes(const Dataset& data, const Transforms& transforms, int workers, int64_t batches) {
  BatchLoader loader(data, 6, {.seed = 11, .transforms = &transforms, .workers = workers, .batches = batches});
  const Shape s = loader.sampleShape();
  const size_t imageBytes = static_cast<size_t>(6 * s[0] * s[1] * s[2]) * sizeof(float);
  std::vector<uint8_t> bytes;
  for (int64_t b = 0; b < batches; ++b) {
    const Batch batch = loader.next();
    const auto* images = reinterpret_cast<const uint8_t*>(batch.images);
    const auto* labels = reinterpret_cast<const uint8_t*>(batch.labels);
    bytes.insert(bytes.end(), images, images + imageBytes);
    bytes.insert(bytes.end(), labels, labels + 6 * sizeof(int64_t));
  }
  return bytes;
}

TEST(DataBatchLoader, TheWorkersChangeNoBatch) {
  VaryingDataset data;
  const Transforms transforms(parseTransformList("--t", "random-resized-crop,flip"), {{0.5f}, {0.25f}}, {1, 5, 5}, 3);
  const int64_t batches = 20;  // three epochs of 6, and two batches of a fourth
  const std::vector<uint8_t> inline0 = runBytes(data, transforms, 0, batches);
  EXPECT_EQ(runBytes(data, transforms, 1, batches), inline0);
  EXPECT_EQ(runBytes(data, transforms, 3, batches), inline0);
  // The random steps are keyed by the seed: another one gives other images.
  const Transforms reseeded(parseTransformList("--t", "random-resized-crop,flip"), {{0.5f}, {0.25f}}, {1, 5, 5}, 4);
  EXPECT_NE(runBytes(data, reseeded, 2, batches), inline0);
}

// A run resumed at batch k of the run sees what the whole run saw from batch k on, workers
// and transforms included; seek() comes before the first batch.
TEST(DataBatchLoader, SeekWithWorkersGivesTheSameBatches) {
  VaryingDataset data;
  const Transforms transforms(parseTransformList("--t", "random-resized-crop,flip"), {}, {1, 4, 4}, 5);
  const std::vector<uint8_t> whole = runBytes(data, transforms, 2, 14);
  BatchLoader later(data, 6, {.seed = 11, .transforms = &transforms, .workers = 2, .batches = 14});
  later.seek(1, 2);
  EXPECT_EQ(later.epoch(), 1);
  EXPECT_EQ(later.batchInEpoch(), 2);
  const size_t batchBytes = whole.size() / 14;
  for (int b = 8; b < 14; ++b) {
    const Batch batch = later.next();
    const auto* images = reinterpret_cast<const uint8_t*>(batch.images);
    EXPECT_TRUE(std::equal(images, images + 6 * 16 * sizeof(float),
                           whole.begin() + static_cast<std::ptrdiff_t>(b * batchBytes)))
        << "batch " << b;
  }
  EXPECT_THROW(later.seek(0, 0), std::logic_error);
}

TEST(DataBatchLoader, ImagesOfVariousSizesNeedATransform) {
  VaryingDataset data;
  expectDataError([&] { BatchLoader(data, 4, {}); }, {"varying has images of different sizes"});
}

TEST(DataBatchLoader, ASampleThatFailsThrowsFromItsBatch) {
  const VaryingDataset data(/*bad=*/5);
  const Transforms transforms(parseTransformList("--t", "center-crop"), {}, {1, 3, 3}, 0);
  for (int workers : {0, 2}) {
    BatchLoader loader(data, 4, {.shuffle = false, .transforms = &transforms, .workers = workers});
    EXPECT_NO_THROW(loader.next());  // samples 0..3
    expectDataError([&] { loader.next(); }, {"sample 5 is corrupt"});
  }
}

}  // namespace
}  // namespace lrc::data

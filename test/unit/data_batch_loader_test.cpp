// BatchLoader: fixed-size batches, the tail of each epoch dropped, every epoch a permutation
// given by the documented Fisher-Yates over std::mt19937_64(seed + epoch).
#include <algorithm>
#include <random>
#include <set>

#include "runtime/data/Dataset.h"
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
  std::vector<float> images(static_cast<size_t>(batch * 2));
  std::vector<int64_t> labels(static_cast<size_t>(batch));
  const int64_t e = loader.epoch();
  for (int64_t b = 0; b < loader.batchesPerEpoch(); ++b) {
    EXPECT_EQ(loader.epoch(), e);
    EXPECT_EQ(loader.batchInEpoch(), b);
    loader.next(images.data(), labels.data());
    for (int64_t i = 0; i < batch; ++i) {
      EXPECT_EQ(images[static_cast<size_t>(2 * i)], static_cast<float>(labels[static_cast<size_t>(i)]));
      EXPECT_EQ(images[static_cast<size_t>(2 * i + 1)], static_cast<float>(labels[static_cast<size_t>(i)]) + 0.5f);
      order.push_back(labels[static_cast<size_t>(i)]);
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
  BatchLoader loader(data, 10, true, 42);
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
  BatchLoader a(data, 8, true, 7), b(data, 8, true, 7), c(data, 8, true, 8);
  const std::vector<int64_t> a0 = epochOrder(a, 8), b0 = epochOrder(b, 8), c0 = epochOrder(c, 8);
  EXPECT_EQ(a0, b0);
  EXPECT_NE(a0, c0);
  EXPECT_NE(a0, std::vector<int64_t>(a0.size()));
  // Epoch e of seed s is epoch 0 of seed s + e (the documented seed + e).
  EXPECT_EQ(epochOrder(a, 8), c0);
}

TEST(DataBatchLoader, WithoutShuffleEveryEpochIsInOrder) {
  CountingDataset data(7);
  BatchLoader loader(data, 3, false, 1);
  EXPECT_EQ(loader.batchesPerEpoch(), 2);
  for (int e = 0; e < 3; ++e) EXPECT_EQ(epochOrder(loader, 3), (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
  BatchLoader whole(data, 7, false, 1);
  EXPECT_EQ(epochOrder(whole, 7), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(epochOrder(whole, 7), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6}));
}

TEST(DataBatchLoader, ADataSetSmallerThanABatchIsRefused) {
  CountingDataset data(5);
  expectDataError([&] { BatchLoader(data, 6, true, 0); }, {"counting has 5 samples, fewer than one batch of 6"});
  expectDataError([&] { BatchLoader(data, 0, true, 0); }, {"batch size 0"});
}

// A loader sent to (epoch, batch) hands out what one that got there batch by batch does
// (lrc-run --resume).
TEST(DataBatchLoader, SeekContinuesWhereAnotherLoaderStood) {
  CountingDataset data(23);
  BatchLoader walked(data, 5, true, 9);
  std::vector<float> images(10), seekImages(10);
  std::vector<int64_t> labels(5), seekLabels(5);
  for (int i = 0; i < 4 * 2 + 3; ++i) walked.next(images.data(), labels.data());  // 4 batches per epoch
  ASSERT_EQ(walked.epoch(), 2);
  ASSERT_EQ(walked.batchInEpoch(), 3);
  BatchLoader sought(data, 5, true, 9);
  sought.seek(2, 3);
  EXPECT_EQ(sought.epoch(), 2);
  EXPECT_EQ(sought.batchInEpoch(), 3);
  for (int i = 0; i < 6; ++i) {  // across the next epoch's start
    walked.next(images.data(), labels.data());
    sought.next(seekImages.data(), seekLabels.data());
    EXPECT_EQ(labels, seekLabels) << "batch " << i;
    EXPECT_EQ(images, seekImages) << "batch " << i;
  }
  EXPECT_EQ(sought.epoch(), walked.epoch());
  EXPECT_EQ(sought.batchInEpoch(), walked.batchInEpoch());
  expectDataError([&] { sought.seek(0, 4); }, {"cannot continue at batch 4 of epoch 0: counting has 4 batches of 5"});
  expectDataError([&] { sought.seek(-1, 0); }, {"batch 0 of epoch -1"});
}

TEST(DataBatchLoader, BatchesOfARealDataSet) {
  auto data = openDataset("synthetic", Split::Test, {2, 3, 3}, 4, 5);
  BatchLoader loader(*data, 100, true, 3);
  EXPECT_EQ(loader.batchesPerEpoch(), 2);  // 256 samples: 56 dropped
  std::vector<float> images(100 * 18), one(18);
  std::vector<int64_t> labels(100);
  loader.next(images.data(), labels.data());
  const std::vector<int64_t> order = referenceOrder(256, 3);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(labels[static_cast<size_t>(i)], data->get(order[static_cast<size_t>(i)], one.data()));
    EXPECT_TRUE(std::equal(one.begin(), one.end(), images.begin() + 18 * i));
  }
}

}  // namespace
}  // namespace lrc::data

#include <random>

#include "runtime/data/Loaders.h"

namespace lrc::data {

BatchLoader::BatchLoader(const Dataset& data, int64_t batch, bool shuffle, uint64_t seed)
    : data_(data), batch_(batch), shuffle_(shuffle), seed_(seed) {
  if (batch <= 0) fail("batch size " + std::to_string(batch) + " must be positive");
  if (data.size() < batch)
    fail(data.describe() + " has " + std::to_string(data.size()) + " samples, fewer than one batch of " +
         std::to_string(batch));
  startEpoch(0);
}

int64_t BatchLoader::batchesPerEpoch() const { return data_.size() / batch_; }

void BatchLoader::startEpoch(int64_t e) {
  epoch_ = e;
  position_ = 0;
  order_.resize(static_cast<size_t>(data_.size()));
  for (size_t i = 0; i < order_.size(); ++i) order_[i] = static_cast<int64_t>(i);
  if (!shuffle_) return;
  std::mt19937_64 rng(seed_ + static_cast<uint64_t>(e));
  for (size_t i = order_.size() - 1; i > 0; --i) std::swap(order_[i], order_[uniformBelow(rng, i + 1)]);
}

void BatchLoader::seek(int64_t epoch, int64_t batchInEpoch) {
  if (epoch < 0 || batchInEpoch < 0 || batchInEpoch >= batchesPerEpoch())
    fail("cannot continue at batch " + std::to_string(batchInEpoch) + " of epoch " + std::to_string(epoch) + ": " +
         data_.describe() + " has " + std::to_string(batchesPerEpoch()) + " batches of " + std::to_string(batch_) +
         " per epoch");
  startEpoch(epoch);
  position_ = batchInEpoch * batch_;
}

void BatchLoader::next(float* images, int64_t* labels) {
  const auto [C, H, W] = data_.sampleShape();
  const int64_t sampleFloats = C * H * W;
  for (int64_t b = 0; b < batch_; ++b)
    labels[b] = data_.get(order_[static_cast<size_t>(position_ + b)], images + b * sampleFloats);
  position_ += batch_;
  if (position_ + batch_ > static_cast<int64_t>(order_.size())) startEpoch(epoch_ + 1);
}

}  // namespace lrc::data

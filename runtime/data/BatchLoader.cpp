#include "runtime/data/BatchLoader.h"

#include <algorithm>
#include <random>

#include "runtime/data/Loaders.h"

namespace lrc::data {

BatchLoader::BatchLoader(const Dataset& data, int64_t batch, Options options)
    : data_(data), batch_(batch), options_(options) {
  if (batch <= 0) fail("batch size " + std::to_string(batch) + " must be positive");
  if (options.ranks < 1 || options.rank < 0 || options.rank >= options.ranks)
    throw std::logic_error("BatchLoader: rank " + std::to_string(options.rank) + " of " + std::to_string(options.ranks));
  if (options.ranks > 1 && options.padLastBatch) throw std::logic_error("BatchLoader: padded batches of several ranks");
  if (options.padLastBatch ? data.size() == 0 : data.size() < batch * options.ranks)
    fail(data.describe() + " has " + std::to_string(data.size()) + " samples, fewer than one batch of " +
         std::to_string(batch * options.ranks) +
         (options.ranks > 1 ? " (" + std::to_string(options.ranks) + " ranks x " + std::to_string(batch) + ")" : ""));
  shape_ = options.transforms ? options.transforms->outputShape() : data.sampleShape();
  if (shape_[1] <= 0 || shape_[2] <= 0)
    fail(data.describe() + " has images of different sizes; a transform must resize or crop them");
  // Masks come out at the images' size when the transforms resize or crop them, else as stored.
  const bool resized = options.transforms && options.transforms->changesSize();
  labelsPerSample_ = !data.hasMasks() ? 1 : resized ? shape_[1] * shape_[2] : data.maskPixels();
  batchesPerEpoch_ = batchesPerEpoch(data.size(), batch, options.padLastBatch, options.ranks);

  slots_.resize(static_cast<size_t>(std::max(options.workers, 0) + 1));
  const size_t sampleFloats = static_cast<size_t>(shape_[0] * shape_[1] * shape_[2]);
  for (Slot& slot : slots_) {
    slot.images.resize(static_cast<size_t>(batch) * sampleFloats);
    slot.labels.resize(static_cast<size_t>(batch * labelsPerSample_));
    slot.indices.reserve(static_cast<size_t>(batch));
  }
}

void BatchLoader::seek(int64_t epoch, int64_t batchInEpoch) {
  if (epoch < 0 || batchInEpoch < 0 || batchInEpoch >= batchesPerEpoch_)
    fail("cannot continue at batch " + std::to_string(batchInEpoch) + " of epoch " + std::to_string(epoch) + ": " +
         data_.describe() + " has " + std::to_string(batchesPerEpoch_) + " batches of " + std::to_string(batch_) +
         " per epoch");
  if (started_) throw std::logic_error("BatchLoader::seek after next()");
  handedOut_ = assigned_ = epoch * batchesPerEpoch_ + batchInEpoch;
}

BatchLoader::~BatchLoader() { stopWorkers(); }

void BatchLoader::stopWorkers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  for (std::thread& t : threads_)
    if (t.joinable()) t.join();
}

void BatchLoader::assign(int64_t ticket, Slot& slot) {
  const int64_t epoch = ticket / batchesPerEpoch_;
  if (epoch != orderEpoch_) {
    orderEpoch_ = epoch;
    order_.resize(static_cast<size_t>(data_.size()));
    for (size_t i = 0; i < order_.size(); ++i) order_[i] = static_cast<int64_t>(i);
    if (options_.shuffle) {
      std::mt19937_64 rng(options_.seed + static_cast<uint64_t>(epoch));
      for (size_t i = order_.size() - 1; i > 0; --i) std::swap(order_[i], order_[uniformBelow(rng, i + 1)]);
    }
  }
  const int64_t first = ticket % batchesPerEpoch_ * batch_ * options_.ranks + options_.rank * batch_;
  const int64_t count = std::min(batch_, data_.size() - first);
  slot.ticket = ticket;
  slot.ready = false;
  slot.error = nullptr;
  slot.epoch = epoch;
  slot.indices.assign(order_.begin() + first, order_.begin() + first + count);
}

void BatchLoader::fill(Slot& slot, Scratch& scratch) const {
  const int64_t sampleFloats = shape_[0] * shape_[1] * shape_[2];
  const int64_t count = static_cast<int64_t>(slot.indices.size());
  for (int64_t b = 0; b < count && !stop_; ++b) {
    const int64_t index = slot.indices[static_cast<size_t>(b)];
    float* image = slot.images.data() + b * sampleFloats;
    int64_t* mask = data_.hasMasks() ? slot.labels.data() + b * labelsPerSample_ : nullptr;
    int64_t label = 0;
    if (options_.transforms) {
      label = options_.transforms->sample(data_, index, slot.epoch, scratch, image, mask);
    } else {
      label = data_.get(index, image);
      if (mask) data_.getMask(index, mask);
    }
    if (!mask) slot.labels[static_cast<size_t>(b)] = label;
  }
  std::fill(slot.images.begin() + count * sampleFloats, slot.images.end(), 0.0f);
  std::fill(slot.labels.begin() + count * labelsPerSample_, slot.labels.end(), 0);
}

void BatchLoader::work() {
  Scratch scratch;
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] {
      return stop_ || (moreTickets() && slots_[static_cast<size_t>(assigned_) % slots_.size()].ticket < 0);
    });
    if (stop_) return;
    Slot& slot = slots_[static_cast<size_t>(assigned_) % slots_.size()];
    assign(assigned_++, slot);
    lock.unlock();
    std::exception_ptr error;
    try {
      fill(slot, scratch);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    slot.error = error;
    slot.ready = true;
    changed_.notify_all();
  }
}

Batch BatchLoader::next() {
  if (options_.batches >= 0 && handedOut_ >= options_.batches)
    throw std::logic_error("BatchLoader::next: more batches than the " + std::to_string(options_.batches) +
                           " announced");
  if (!started_) {
    started_ = true;
    try {
      for (size_t i = 1; i < slots_.size(); ++i) threads_.emplace_back([this] { work(); });
    } catch (...) {  // no thread for one more worker: stop those started
      stopWorkers();
      throw;
    }
  }
  Slot& slot = slots_[static_cast<size_t>(handedOut_) % slots_.size()];
  std::unique_lock<std::mutex> lock(mutex_);
  if (holding_) {  // the caller is done with the batch it holds, the one before
    slots_[static_cast<size_t>(handedOut_ - 1) % slots_.size()].ticket = -1;
    holding_ = false;
    changed_.notify_all();
  }
  if (threads_.empty()) {
    assign(assigned_++, slot);
    lock.unlock();
    fill(slot, scratch_);
  } else {
    changed_.wait(lock, [&] { return slot.ticket == handedOut_ && slot.ready; });
    if (slot.error) std::rethrow_exception(slot.error);
  }
  ++handedOut_;
  holding_ = true;
  return {slot.images.data(), slot.labels.data(), static_cast<int64_t>(slot.indices.size())};
}

}  // namespace lrc::data

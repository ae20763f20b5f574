// Cuts a data set into batches of exactly `batch` samples, made by worker threads ahead of
// the caller (lrc-run's `--workers N`).
//
// Each epoch visits the samples in an order of its own. By default it drops the last
// size % batch of them, so every batch has the plan's batch size; with `padLastBatch` (for
// evaluation) the last batch holds the rest and is padded with zero images (label 0). With
// `shuffle`, epoch e's order is the Fisher-Yates shuffle of 0..size-1 (for i from size-1 down
// to 1, swap i with j = uniformBelow(i + 1)) driven by std::mt19937_64(seed + e), where
// uniformBelow(n) draws r until r >= 2^64 mod n and returns r % n (unbiased, and the same on
// every platform). Without it the order is 0..size-1 every epoch.
//
// Samples go through `transforms` (Transforms.h; none: the data set's own images, which must
// then all be sampleShape()) with the random stream of (seed, epoch, sample index), so a
// batch's contents depend on the seeds and on its position in the run only, never on the
// number of workers. Batch t of the run (its ticket) is epoch t / batchesPerEpoch, position
// t % batchesPerEpoch.
//
// `workers` = 0 makes each batch inside next(). N > 0 threads, started by the first next(),
// each make whole batches, at most N ahead of the one the caller holds: N + 1 batches of
// memory. A sample that cannot be read throws from the next() that would return its batch.
//
// The loader's whole state is (seed, epoch, batch in the epoch): a checkpoint keeps those and
// seek() returns to them (lrc-run --resume).
#pragma once

#include <atomic>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/data/Transforms.h"

namespace lrc::data {

// A batch as BatchLoader::next() hands it out: valid until the next call.
struct Batch {
  const float* images = nullptr;    // batch * C*H*W floats
  const int64_t* labels = nullptr;  // batch labels (batch label maps of H*W when the data has masks)
  int64_t samples = 0;              // real samples: the batch size, except in a padded last batch
};

class BatchLoader {
 public:
  struct Options {
    bool shuffle = true;
    bool padLastBatch = false;
    uint64_t seed = 0;                       // the order's
    const Transforms* transforms = nullptr;  // must outlive the loader
    int workers = 0;
    int64_t batches = -1;  // the run's length in batches, from its start: none is made past it; -1: no end
    // Data parallel: the epoch is cut into global batches of batch * ranks samples, and this
    // loader hands out the `rank`-th slice of each (samples [rank * batch, (rank + 1) * batch)
    // of it), so that the ranks together see exactly one process's batches of batch * ranks.
    int ranks = 1, rank = 0;
  };

  // Throws when the data set holds fewer samples than one batch (none, when padded), when
  // its images have no one size and there are no transforms, or when it has masks and a
  // transform resizes or crops (flip flips the mask with the image; the others are not
  // applied to masks yet). `data` must outlive the loader.
  BatchLoader(const Dataset& data, int64_t batch, Options options);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // Batches in an epoch of `samples` samples: the whole ones, or with `padLastBatch` all.
  static int64_t batchesPerEpoch(int64_t samples, int64_t batch, bool padLastBatch, int ranks = 1) {
    const int64_t global = batch * ranks;
    return padLastBatch ? (samples + global - 1) / global : samples / global;
  }

  int64_t batchSize() const { return batch_; }
  int64_t batchesPerEpoch() const { return batchesPerEpoch_; }
  // C, H, W of each image of a batch.
  const Shape& sampleShape() const { return shape_; }
  // Epoch of the batch next() returns next, and its position in that epoch.
  int64_t epoch() const { return handedOut_ / batchesPerEpoch_; }
  int64_t batchInEpoch() const { return handedOut_ % batchesPerEpoch_; }

  // The next batch. The one returned before is given back to the workers.
  Batch next();

  // Continues at batch `batchInEpoch` of epoch `epoch` (where a checkpoint left off): next()
  // then returns what it would there after the batches before. Throws "data: ..." unless
  // epoch >= 0 and 0 <= batchInEpoch < batchesPerEpoch(); only before the first next().
  void seek(int64_t epoch, int64_t batchInEpoch);

 private:
  struct Slot {
    int64_t ticket = -1;  // the batch it holds or is being made; -1: free
    bool ready = false;
    std::exception_ptr error;
    int64_t epoch = 0;
    std::vector<int64_t> indices;  // the samples, in order
    std::vector<float> images;
    std::vector<int64_t> labels;
  };

  void assign(int64_t ticket, Slot& slot);  // under mutex_
  void fill(Slot& slot, Scratch& scratch) const;
  void work();
  void stopWorkers();
  bool moreTickets() const { return options_.batches < 0 || assigned_ < options_.batches; }

  const Dataset& data_;
  int64_t batch_;
  Options options_;
  Shape shape_;
  int64_t labelsPerSample_;  // 1, or the labels of a mask as it comes out
  int64_t batchesPerEpoch_;
  int64_t handedOut_ = 0;  // the ticket next() returns next
  bool started_ = false;   // next() has been called: the workers run
  bool holding_ = false;   // the caller holds batch handedOut_ - 1

  std::vector<Slot> slots_;     // ticket t is made in slot t % size
  Scratch scratch_;             // workers == 0
  std::vector<int64_t> order_;  // of epoch orderEpoch_
  int64_t orderEpoch_ = -1;
  int64_t assigned_ = 0;            // the ticket a maker takes next
  std::atomic<bool> stop_ = false;  // workers leave a batch half made once it is set
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::thread> threads_;
};

}  // namespace lrc::data

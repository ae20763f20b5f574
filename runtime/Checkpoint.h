// lrc-run's checkpoints (--checkpoint DIR, --resume DIR; docs/training.md): one file,
// DIR/checkpoint.lrck, holding all a run needs to go on and end bit for bit where the run
// without the stop would have ended:
// - every buffer of the plan that lives from step to step and changes: roles PARAMETER,
//   OPTIMIZER_STATE (momentum, and whatever state another optimizer adds) and STATE
//   (BatchNorm running statistics), by name, type and shape, in plan order;
// - the steps done: the step count is also what Dropout's masks are drawn from (with the
//   seed), so it is the whole of the random state of the step;
// - where the loader stands (epoch, batch in the epoch; its order is a function of the seed
//   and the epoch, data::BatchLoader) and the training set's size;
// - the seed, the optimizer's hyper-parameters (lr, momentum, weight_decay, nesterov, beta1,
//   beta2, eps) and the lr schedule (lr_schedule, warmup_steps, lr_step_size, lr_gamma,
//   lr_min, and for cosine schedule_steps, its T), which a resumed run must share.
// Constants never change and stay in the plan.
//
// The file (format version 1; numbers little-endian, doubles IEEE 754):
//   8 bytes  magic "LRCCKPT\0"
//   4 bytes  format version (kCheckpointVersion)
//   4 bytes  plan hash: CRC-32 of the plan's serialized payload (planHash)
//   8 bytes  file size: every byte of the file, this header and the checksum included
//   8 bytes  steps done
//   8 bytes  epoch of the next batch (0-based)
//   8 bytes  position of the next batch in its epoch (0-based)
//   8 bytes  training samples (the data set's size)
//   8 bytes  seed
//   4 bytes  settings S; S times: 4 bytes name size, the name, 8 bytes double
//   4 bytes  tensors T; T times: 4 bytes name size, the name (the plan buffer's), 4 bytes
//            dtype (plan::DType: 0 f32, 1 i64), 4 bytes rank R, R x 8 bytes dims, 8 bytes
//            data size D, D bytes data (the buffer's bytes as they are in the arena)
//   4 bytes  CRC-32 (zlib) of every byte before it
// The size is in the header, so a truncated file is known as such from its size alone.
//
// Written atomically: DIR/checkpoint.lrck.tmp, fsync'd, renamed over DIR/checkpoint.lrck,
// the directory fsync'd; so DIR holds the last checkpoint whole or the one before it, even
// if the process is killed or the machine stops while writing. Tensors pass through memory
// one at a time.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "runtime/Executor.h"
#include "runtime/plan/Plan.h"

namespace lrc::runtime {

constexpr uint32_t kCheckpointVersion = 1;

// DIR/checkpoint.lrck
std::string checkpointPath(const std::string& dir);

// CRC-32 of the plan's serialized payload: a checkpoint is resumed by the plan it was made
// with only.
uint32_t planHash(const plan::Plan& plan);

// The plan's buffers a checkpoint holds (roles above), in plan order.
std::vector<uint32_t> checkpointBuffers(const plan::Plan& plan);

// Where the training data stood after the steps done (data::BatchLoader).
struct LoaderPosition {
  int64_t epoch = 0;         // of the next batch
  int64_t batchInEpoch = 0;  // the next batch's position in it
  int64_t samples = 0;       // the training set's size
};

// The size of the checkpoint of `plan` (lrc-run reserves it on disk before training).
uint64_t checkpointBytes(const plan::Plan& plan, const RunSettings& settings);

// Writes checkpointPath(dir) as above (dir must exist): the executor's steps done, settings
// and the buffers of checkpointBuffers, and `loader`. Throws std::runtime_error("PATH: cannot
// write: ...") after removing the temporary; the previous checkpoint is then untouched.
void writeCheckpoint(const std::string& dir, const plan::Plan& plan, Executor& executor, const LoaderPosition& loader);

// A checkpoint file opened and checked whole before anything of the run changes: its size,
// checksum and header, then every tensor's name, type and shape against the plan's buffers
// and the plan hash. Throws std::runtime_error with one line, "PATH: <what is wrong>":
// cannot read, not a checkpoint, another format version, truncated, trailing bytes, checksum
// mismatch, or made for another plan (naming the first tensor that differs).
class Checkpoint {
 public:
  Checkpoint(const std::string& dir, const plan::Plan& plan);
  ~Checkpoint();
  Checkpoint(const Checkpoint&) = delete;
  Checkpoint& operator=(const Checkpoint&) = delete;

  const std::string& path() const { return path_; }
  uint64_t stepsDone() const { return steps_; }
  const LoaderPosition& loader() const { return loader_; }

  // Throws "PATH: ..." naming the first setting (seed, lr, momentum, ..., above) or the
  // training set size that differs between the checkpoint and this run: continuing with
  // another would not give the uninterrupted run's result.
  void checkRun(const RunSettings& settings, int64_t samples) const;

  // Writes the tensors into the executor's buffers and sets its steps done.
  void restore(Executor& executor) const;

 private:
  std::string path_;
  int fd_ = -1;
  const plan::Plan& plan_;
  uint64_t steps_ = 0, seed_ = 0;
  LoaderPosition loader_;
  std::vector<std::pair<std::string, double>> settings_;
  std::vector<uint64_t> dataAt_;  // where each tensor's data lies in the file (checkpointBuffers order)

  void load();  // the constructor's checks
  [[noreturn]] void fail(const std::string& what) const;
};

}  // namespace lrc::runtime

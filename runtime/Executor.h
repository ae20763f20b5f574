// Runs a validated plan on a backend: one arena, the initial data, then training steps (the
// plan's train program) and evaluation batches (its eval program) on batches the caller
// provides. Its buffers can be read and written whole and its step count set, so that a
// checkpoint (runtime/Checkpoint.h) can save and restore a run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/Backend.h"
#include "runtime/Collective.h"
#include "runtime/LrSchedule.h"
#include "runtime/PlanLoader.h"
#include "runtime/PreparedStep.h"
#include "runtime/plan/Plan.h"
#include "runtime/plan/PlanFile.h"

namespace lrc::runtime {

// The optimizer's hyper-parameters for the run (the plan's defaults unless overridden), the
// run's seed, and its lr schedule: training step k (0 first) trains with
// scheduledLr(schedule, optimizer.lr, k, scheduleSteps) (Executor::stepLr), so a run restored
// at step k goes on with the lr an uninterrupted one has there.
struct RunSettings {
  kernels::OptimizerParams optimizer;
  uint64_t seed = 0;
  LrSchedule schedule;
  int64_t scheduleSteps = 0;  // the run's training steps: cosine's T (others ignore it)
  // Data parallel: the job's other ranks (runtime/Collective.h), which the plan's collective
  // steps and synchronised BatchNorm statistics reach; null: one process.
  Collective* collective = nullptr;
};
kernels::OptimizerParams optimizerParams(const plan::Optimizer& o);  // the record's values
RunSettings defaultSettings(const plan::Plan& plan);  // the plan's optimizer, seed 0

// Writes the initial data of every init of a validated plan into `backend`'s arena (already
// allocated): zeros, or the init's bytes of `weights`, copied chunk by chunk as the source
// streams them (the weights are never held in memory whole). Throws what the source throws:
// when the weights' checksum does not match, the arena's contents are then garbage.
void writeInitialData(const plan::Plan& plan, const plan::WeightSource& weights, Backend& backend);

// Wall time (std::chrono::steady_clock) of every kernel call of the train program, summed
// per plan step over the training steps timed (lrc-run --profile; bench/calibrate.py fits
// per-kernel cost constants to it). Evaluation is never timed.
struct Profile {
  uint64_t warmupSteps = 0;  // training steps after enableProfile that are run but not timed
  uint64_t stepsSeen = 0;    // training steps run since enableProfile, warm-up included
  uint64_t stepsTimed = 0;   // training steps timed: max(0, stepsSeen - warmupSteps)
  // Per train-program step index: the seconds of its kernel call, summed over stepsTimed.
  std::vector<double> stepSeconds;
  // The timed training steps' whole wall time (trainStep: the batch copied in, the program,
  // the loss copied out), which the kernels' total never exceeds.
  double wallSeconds = 0;
};

// A profile's time per kernel name: calls (its plan steps x steps timed) and seconds.
struct KernelTime {
  std::string kernel;
  uint64_t calls = 0;
  double seconds = 0;
};
std::vector<KernelTime> kernelTimes(const plan::Plan& plan, const Profile& profile);  // sorted by name

// The profile as one JSON object (lrc-run --profile's file):
//   {"steps_timed": N, "warmup_steps": W, "wall_seconds": S,
//    "kernels": {"conv2d": {"calls": C, "seconds": S}, ...},                    (by name)
//    "per_step": [{"index": I, "kernel": "conv2d", "origin": "...", "seconds": S}, ...]}
// covering the train program's steps only, every step index in order; seconds are sums over
// the N steps timed (divide by N for one step's).
std::string profileJson(const plan::Plan& plan, const Profile& profile);

class Executor {
 public:
  // `plan` must have passed validatePlan against `weights` (its file's weights section, or
  // the bytes the compiler made) and outlive the executor; `weights` is read here only.
  // Prepares both programs' steps once (preparePlan), allocates the arena (exactly
  // plan.arena_bytes(), canary-filled by the backend) and streams the initial data into it (writeInitialData): a weights checksum mismatch throws
  // std::runtime_error("PATH: corrupt plan (checksum mismatch)") before any step can run.
  Executor(const plan::Plan& plan, const plan::WeightSource& weights, Backend& backend, const RunSettings& settings);

  const IoShape& shape() const { return shape_; }
  const RunSettings& settings() const { return settings_; }
  uint64_t stepsDone() const { return stepsDone_; }
  // Continues the step count from a checkpoint (runtime/Checkpoint.h): the next step is
  // `steps` + 1 to every kernel that reads it (Dropout's masks).
  void setStepsDone(uint64_t steps) { stepsDone_ = steps; }

  // The lr of the next training step (RunSettings' schedule at step stepsDone()).
  double stepLr() const;

  // One training step (forward, backward, optimizer updates) on a batch: shape().batch images (C*H*W floats each) and their labels
  // (shape().labelsPerSample() each: label maps of a segmentation plan), which must lie in
  // [0, classes) or, per pixel, be the ignore index (std::runtime_error naming the sample otherwise).
  // Returns the batch's mean loss.
  float trainStep(const float* images, const int64_t* labels);

  // The eval program on a batch: writes batch x classes logits (x H x W per pixel).
  void evaluate(const float* images, float* logits);

  // Times the train program's kernel calls from now on (off by default; when off a step costs
  // one untaken branch per kernel call): the next `warmupSteps` training steps run untimed,
  // then every step's kernel calls are timed, each followed by Backend::synchronize so that an
  // asynchronous backend's kernel is timed whole. Enabling again starts a new profile.
  void enableProfile(uint64_t warmupSteps = 1);
  // The profile so far; nullptr unless enableProfile was called.
  const Profile* profile() const { return profiling_ ? &profile_ : nullptr; }

  // The bytes of buffer `index` as they are now (trained weights, running statistics).
  std::string readBuffer(uint32_t index);
  // Replaces buffer `index`'s contents (a checkpoint's tensor): exactly its bytes.
  void writeBuffer(uint32_t index, const std::string& bytes);

  // The first parameter or running statistic (plan order) holding a NaN or an infinity, by
  // its ONNX initializer's name (else its IR name); "" when all are finite. It reads them
  // all: for after a non-finite loss, not for every step.
  std::string firstNonFiniteParameter();

  // The arena bytes the run touched, measured (Backend::measuredPeakBytes), and the plan's
  // prediction.
  uint64_t measuredPeakBytes() { return backend_.measuredPeakBytes(); }
  uint64_t predictedPeakBytes() const { return plan_.arena_bytes(); }

 private:
  const plan::Plan& plan_;
  const PreparedPlan steps_;
  Backend& backend_;
  RunSettings settings_;
  IoShape shape_;
  uint64_t stepsDone_ = 0;
  bool profiling_ = false;
  Profile profile_;

  const plan::Buffer& buffer(uint32_t index) const { return plan_.buffers(static_cast<int>(index)); }
  void copyToBuffer(uint32_t index, const void* data);
  // `seconds`, when given, accumulates each step's kernel time (Profile::stepSeconds).
  // `program` is `steps` prepared.
  void runProgram(const plan::Program& program, const std::vector<PreparedStep>& steps, const char* name,
                  std::vector<double>* seconds = nullptr);
};

}  // namespace lrc::runtime

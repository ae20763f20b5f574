// Runs a validated plan on a backend: one arena, the initial data, then training steps (the
// plan's train program) and evaluation batches (its eval program) on batches the caller
// provides.
#pragma once

#include <cstdint>
#include <string>

#include "runtime/Backend.h"
#include "runtime/PlanLoader.h"
#include "runtime/plan/Plan.h"
#include "runtime/plan/PlanFile.h"

namespace lrc::runtime {

// SGD's values for the run (the plan's defaults unless overridden) and the run's seed.
struct RunSettings {
  double lr = 0, momentum = 0, weightDecay = 0;
  uint64_t seed = 0;
};
RunSettings defaultSettings(const plan::Plan& plan);  // the plan's optimizer, seed 0

// Writes the initial data of every init of a validated plan into `backend`'s arena (already
// allocated): zeros, or the init's bytes of `weights`, copied chunk by chunk as the source
// streams them (the weights are never held in memory whole). Throws what the source throws:
// when the weights' checksum does not match, the arena's contents are then garbage.
void writeInitialData(const plan::Plan& plan, const plan::WeightSource& weights, Backend& backend);

class Executor {
 public:
  // `plan` must have passed validatePlan against `weights` (its file's weights section, or
  // the bytes the compiler made) and outlive the executor; `weights` is read here only.
  // Allocates the arena (exactly plan.arena_bytes(), canary-filled by the backend) and
  // streams the initial data into it (writeInitialData): a weights checksum mismatch throws
  // std::runtime_error("PATH: corrupt plan (checksum mismatch)") before any step can run.
  Executor(const plan::Plan& plan, const plan::WeightSource& weights, Backend& backend, const RunSettings& settings);

  const IoShape& shape() const { return shape_; }
  uint64_t stepsDone() const { return stepsDone_; }

  // One SGD step on a batch: shape().batch images (C*H*W floats each) and their labels,
  // which must lie in [0, classes) (std::runtime_error naming the sample otherwise).
  // Returns the batch's mean loss.
  float trainStep(const float* images, const int64_t* labels);

  // The eval program on a batch: writes batch x classes logits.
  void evaluate(const float* images, float* logits);

  // The bytes of buffer `index` as they are now (trained weights, running statistics).
  std::string readBuffer(uint32_t index);

  // The arena bytes the run touched, measured (Backend::measuredPeakBytes), and the plan's
  // prediction.
  uint64_t measuredPeakBytes() { return backend_.measuredPeakBytes(); }
  uint64_t predictedPeakBytes() const { return plan_.arena_bytes(); }

 private:
  const plan::Plan& plan_;
  Backend& backend_;
  RunSettings settings_;
  IoShape shape_;
  uint64_t stepsDone_ = 0;

  const plan::Buffer& buffer(uint32_t index) const { return plan_.buffers(static_cast<int>(index)); }
  void copyToBuffer(uint32_t index, const void* data);
  void runProgram(const plan::Program& program, const char* name);
};

}  // namespace lrc::runtime

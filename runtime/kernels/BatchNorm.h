// Parameters of BatchNormalization steps (forward and backward), shared by the plan loader's
// step preparation (runtime/PreparedStep.h) and both backends.
#pragma once

namespace lrc::kernels {

struct BatchNormParams {
  float epsilon = 0.0f;
  float momentum = 0.0f;     // PyTorch's: the weight of the batch statistic (forward only)
  bool training = false;     // batch statistics; otherwise the running ones, frozen
  bool updateStats = true;   // training forward: update the running statistics (false: a strip's recompute)
  bool sync = false;         // batchnorm_stats: the statistics of every rank's map (data-parallel bn-sync)
};

}  // namespace lrc::kernels

// Parameters of BatchNormalization steps (forward and backward), shared by the plan loader's
// step preparation (runtime/PreparedStep.h) and both backends.
#pragma once

#include "runtime/kernels/Portable.h"

namespace lrc::kernels {

struct BatchNormParams {
  float epsilon = 0.0f;
  float momentum = 0.0f;     // PyTorch's: the weight of the batch statistic (forward only)
  bool training = false;     // batch statistics; otherwise the running ones, frozen
  bool updateStats = true;   // training forward: update the running statistics (false: a strip's recompute)
  bool sync = false;         // batchnorm_stats: the statistics of every rank's map (data-parallel bn-sync)
  bool relu = false;         // batchnorm_apply(_grad): the ReLU fused after the apply (fuse-batchnorm-relu)
};

// batchnorm_apply in PyTorch's form, y = x * scale + shift with these per-channel coefficients:
// one definition for the forward kernels and for the fused ReLU's mask that the backward kernels
// recompute (x * scale + shift > 0), so the mask is the forward's bit for bit on every backend.
struct BatchNormAffine {
  float scale, shift;
  LRC_HD float operator()(float x) const { return x * scale + shift; }
};
LRC_HD inline BatchNormAffine batchnorm_affine(float mean, float invStd, float gamma, float beta) {
  const float scale = invStd * gamma;
  return {scale, beta - mean * scale};
}

}  // namespace lrc::kernels

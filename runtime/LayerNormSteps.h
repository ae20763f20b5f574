// layer_norm and layer_norm_grad steps as runtime/kernels/LayerNorm.h's passes: the one
// description both backends run. Over trailing axes the groups are contiguous (whole tensors);
// over the channel axis (`end` present, params().channels) the groups are the pixels of the
// result's rows (forward) or of the propagated rows of dy (backward), on whole maps or bands.
#pragma once

#include "runtime/PreparedStep.h"
#include "runtime/StepArgs.h"
#include "runtime/kernels/LayerNorm.h"

namespace lrc::runtime {

// forEach(n, f) as the kernels take it; workspace(n) gives n doubles for the group statistics.
template <class ForEach, class Workspace>
void runLayerNormStep(const StepArgs& s, const ForEach& forEach, const Workspace& workspace) {
  const bool grad = s.step.kernel == Kernel::LayerNormGrad;
  const int xi = grad ? 1 : 0;
  kernels::LayerNormParams p = s.params<kernels::LayerNormParams>();
  kernels::LayerNormTensor<float> out{s.out(0)};
  kernels::LayerNormTensor<const float> x{s.in(xi)}, dy{s.in(0)};
  if (p.channels) {
    const kernels::RowBand y = s.outMap(0);
    const kernels::RowRange rows = grad ? s.gradRows(0) : y.range();
    p = kernels::channelGroups(p, y.N, y.C, y.W, rows);
    out = kernels::channelView(y, rows.begin);
    x = kernels::channelView(kernels::ConstRowBand(s.inMap(xi)), rows.begin);
    dy = kernels::channelView(kernels::ConstRowBand(s.inMap(0)), rows.begin);
  }
  double* stats = workspace(2 * p.rows);
  if (!grad)
    return kernels::layer_norm_forward(forEach, out, x, s.in(1), s.numInputs() == 3 ? s.in(2) : nullptr, stats, p);
  kernels::layer_norm_backward(forEach, out, s.out(1), s.out(2), dy, x, s.in(2), stats, p);
}

}  // namespace lrc::runtime

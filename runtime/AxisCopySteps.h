// concat, slice, slice_grad and channel_shuffle steps as copies along their axis (runtime/kernels/AxisCopy.h):
// the one description both backends run. On rows (axis 1, checked by runtime/PlanChecks.cpp)
// the copies cover the result's rows (forward) or the propagated rows of dy (slice_grad); on
// whole tensors, the one-row views of axis_view. slice_grad's caller zeroes its result first.
#pragma once

#include <vector>

#include "runtime/PreparedStep.h"
#include "runtime/StepArgs.h"
#include "runtime/kernels/AxisCopy.h"

namespace lrc::runtime {

// The copies of a concat, slice, slice_grad or channel_shuffle step (none for another kernel).
inline std::vector<kernels::AxisCopyJob> axisCopies(const StepArgs& s) {
  const auto& p = s.params<kernels::AxisParams>();
  auto in = [&](int i) {
    return s.byRows() ? kernels::ConstRowBand(s.inBand(i)) : kernels::axis_view<const float>(s.in(i), s.inShape(i), p.axis);
  };
  const kernels::RowBand out = s.byRows() ? s.outBand(0) : kernels::axis_view(s.out(0), s.outShape(0), p.axis);
  std::vector<kernels::AxisCopyJob> jobs;
  if (s.step.kernel == Kernel::Concat) {
    int64_t offset = 0;
    for (int i = 0; i < s.numInputs(); ++i) {
      const kernels::ConstRowBand x = in(i);
      jobs.push_back({{out, x, offset, 0, false}, x.C, out.range()});
      offset += x.C;
    }
  } else if (s.step.kernel == Kernel::Slice) {
    jobs.push_back({{out, in(0), 0, p.start, false}, out.C, out.range()});
  } else if (s.step.kernel == Kernel::ChannelShuffle) {
    jobs.push_back({{out, in(0), 0, 0, false, p.groups, out.C / p.groups}, out.C, out.range()});
  } else if (s.step.kernel == Kernel::SliceGrad) {
    const kernels::ConstRowBand dy = in(0);
    jobs.push_back({{out, dy, p.start, 0, true}, dy.C, s.byRows() ? s.gradRows(0) : dy.range()});
  }
  return jobs;
}

}  // namespace lrc::runtime

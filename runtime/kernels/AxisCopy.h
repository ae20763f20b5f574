// Copies along one axis, the element rule of concat, slice, slice_grad and channel_shuffle on both backends
// (runtime/AxisCopySteps.h turns a step into these copies; cpu/CpuBackend.cpp and
// cuda/DeviceBackend.h run them). On row bands the axis is the channels (axis 1 of NCHW);
// a whole tensor of any rank is seen around its axis as the one-row band
// [outer][axis][1][inner] (axis_view), so the same copy serves every axis.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/kernels/RowBand.h"

namespace lrc::kernels {

// slice / slice_grad: the axis and the first index of the slice in the whole tensor (concat:
// start 0, each operand's offset comes from the operands before it); channel_shuffle: axis 1
// and its groups.
struct AxisParams {
  int64_t axis = 1, start = 0, groups = 1;
};

// dst (n, dstC0 + c, h, w) = src (n, srcC0 + s(c), h, w), or += when `accumulate`, for the
// channels c of one copy and the rows it covers. s(c) = c but for a channel shuffle of `groups`
// groups of `perGroup` channels: s(j*groups + i) = i*perGroup + j.
struct AxisCopy {
  RowBand dst;
  ConstRowBand src;
  int64_t dstC0 = 0, srcC0 = 0;
  bool accumulate = false;
  int64_t groups = 1, perGroup = 1;
  LRC_HD void operator()(int64_t n, int64_t c, int64_t h, int64_t w) const {
    const float v = src.at(n, srcC0 + (c % groups) * perGroup + c / groups, h, w);
    float& d = dst.at(n, dstC0 + c, h, w);
    d = accumulate ? d + v : v;
  }
};

// One copy of a step: `count` channels of rows [rows.begin, rows.end).
struct AxisCopyJob {
  AxisCopy copy;
  int64_t count = 0;
  RowRange rows;
};

// A whole tensor of `shape` around `axis`: [prod(shape[:axis])][shape[axis]][1][prod(shape[axis+1:])].
template <class T>
BasicRowBand<T> axis_view(T* data, const std::vector<int64_t>& shape, int64_t axis) {
  int64_t outer = 1, inner = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (static_cast<int64_t>(d) < axis) outer *= shape[d];
    if (static_cast<int64_t>(d) > axis) inner *= shape[d];
  }
  return {data, outer, shape[static_cast<size_t>(axis)], 1, inner, 0, 1};
}

}  // namespace lrc::kernels

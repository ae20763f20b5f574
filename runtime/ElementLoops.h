// The strided loops (runtime/kernels/Strided.h) of a step of the binary element-wise family,
// its gradients, reduce_mean and transpose, built from the step's buffers: what the CPU and CUDA backends
// both run, each with its own loop over kernels::Reduce (a plain loop; a thread per element).
//
// On whole tensors the loop runs over the broadcast shape. On rows it runs over the rows
// [a, b) of the map ([N, C, b - a, W]): an operand or result that is a band of that map (or
// the whole map) is read through its rows; any other is a whole per-channel tensor (H = W = 1,
// which the plan loader checks) broadcast over the rows, so a gradient result of that kind is
// the sum over the rows.
#pragma once

#include <array>
#include <utility>
#include <vector>

#include "runtime/StepArgs.h"
#include "runtime/kernels/Binary.h"
#include "runtime/kernels/Strided.h"

namespace lrc::runtime {

// A step's loop and its operands in step order (forward: a, b; gradient: dy, a, b).
struct ElementLoop {
  kernels::ReduceLoop loop;
  float* result = nullptr;
  std::array<kernels::StridedOperand, 3> operands{};
};

namespace element_loops_detail {
inline bool isMapBuffer(const StepBuffer& b, const Shape& map) {
  if (b.height > 0) return true;
  return b.shape == map;
}
}  // namespace element_loops_detail

// Forward (`grad` false: operands a, b; the result is the broadcast shape) or gradient (`grad`
// true: operands dy, a, b; the result has its operand's shape, summed over the rest).
inline ElementLoop elementLoop(const StepArgs& s, bool grad) {
  using element_loops_detail::isMapBuffer;
  ElementLoop l;
  l.result = s.out(0);
  const int inputs = s.numInputs();
  if (!s.byRows()) {
    const Shape& extent = grad ? s.inShape(0) : s.outShape(0);
    l.loop = kernels::ReduceLoop::over(extent, kernels::broadcastStrides(s.outShape(0), extent));
    for (int i = 0; i < inputs; ++i)
      l.operands[static_cast<size_t>(i)] = l.loop.operand(s.in(i), kernels::broadcastStrides(s.inShape(i), extent));
    return l;
  }
  const kernels::RowBand rowsOf = grad ? s.inBand(0) : s.outBand(0);
  const kernels::RowRange r = grad ? s.gradRows(0) : rowsOf.range();
  const Shape map = {rowsOf.N, rowsOf.C, rowsOf.H, rowsOf.W};
  const Shape extent = {rowsOf.N, rowsOf.C, r.size(), rowsOf.W};
  // (data, strides) of a buffer over `extent`.
  auto view = [&](const StepBuffer& b, float* data, bool out, int i) -> std::pair<float*, Shape> {
    if (!isMapBuffer(b, map)) return {data, kernels::broadcastStrides(b.shape, map)};
    const kernels::RowBand band = out ? s.outBand(i) : s.inBand(i);
    return {band.row(0, 0, r.begin), kernels::bandStrides(band)};
  };
  const auto [result, resultStrides] = view(s.outBuffer(0), s.out(0), true, 0);
  l.result = result;
  l.loop = kernels::ReduceLoop::over(extent, resultStrides);
  for (int i = 0; i < inputs; ++i) {
    const auto [data, strides] = view(s.inBuffer(i), s.in(i), false, i);
    l.operands[static_cast<size_t>(i)] = l.loop.operand(data, strides);
  }
  return l;
}

// reduce_mean (x) -> y: the mean over the axes `axes` of x (with `sum`, their sum: scale 1);
// with `input_shape` (p.inputShape), over the size of those axes in it.
inline float reduceMeanScale(const Shape& x, const kernels::ReduceMeanParams& p) {
  if (p.sum) return 1.0f;
  const Shape& of = p.inputShape.empty() ? x : p.inputShape;
  int64_t count = 1;
  for (int64_t a : p.axes) count *= of[static_cast<size_t>(a)];
  return 1.0f / static_cast<float>(count);
}
// The strides of a result with x's axes `axes` reduced (kept or dropped), by position in x: 0
// along the reduced axes.
inline std::vector<int64_t> reducedStrides(const Shape& x, const std::vector<int64_t>& axes) {
  Shape kept = x;
  for (int64_t a : axes) kept[static_cast<size_t>(a)] = 1;
  return kernels::broadcastStrides(kept, x);
}
// reduce_mean: over x's shape, the result's strides 0 along `axes`. reduce_mean_grad: over
// dx's shape (nothing summed), dy read with those strides.
inline ElementLoop reduceMeanLoop(const StepArgs& s, const std::vector<int64_t>& axes, bool grad) {
  ElementLoop l;
  l.result = s.out(0);
  const Shape& x = grad ? s.outShape(0) : s.inShape(0);
  const std::vector<int64_t> reduced = reducedStrides(x, axes);
  l.loop = kernels::ReduceLoop::over(x, grad ? kernels::contiguousStrides(x) : reduced);
  l.operands[0] = l.loop.operand(s.in(0), grad ? reduced : kernels::contiguousStrides(x));
  return l;
}

// transpose {perm}: over y's shape (contiguous), x read with its strides permuted. Its gradient
// is the transpose by the inverse permutation.
inline ElementLoop transposeLoop(const StepArgs& s, const std::vector<int64_t>& perm) {
  ElementLoop l;
  l.result = s.out(0);
  const Shape& y = s.outShape(0);
  const std::vector<int64_t> xStrides = kernels::contiguousStrides(s.inShape(0));
  std::vector<int64_t> strides;
  for (int64_t d : perm) strides.push_back(xStrides[static_cast<size_t>(d)]);
  l.loop = kernels::ReduceLoop::over(y, kernels::contiguousStrides(y));
  l.operands[0] = l.loop.operand(s.in(0), strides);
  return l;
}

}  // namespace lrc::runtime

// One prepared step's view of an arena, shared by every backend: its operands, results and
// scratch by position, as raw pointers into the arena (host or device memory: nothing here
// reads through them) and as row bands, and its parameters. A buffer with band geometry
// (plan.proto: height > 0) is seen as that band of its map; any other rank-4 buffer as the
// band of all its rows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <variant>
#include <vector>

#include "runtime/PreparedStep.h"
#include "runtime/kernels/RowBand.h"
#include "runtime/kernels/Strided.h"

namespace lrc::runtime {

// Numpy-broadcast strides (runtime/kernels/Strided.h), as the backends index operands.
using kernels::broadcastStrides;

class StepArgs {
 public:
  StepArgs(unsigned char* arena, const PreparedStep& step) : step(step), arena_(arena) {}

  const StepBuffer& inBuffer(int i) const { return step.inputs[static_cast<size_t>(i)]; }
  const StepBuffer& outBuffer(int i) const { return step.outputs[static_cast<size_t>(i)]; }
  float* in(int i) const { return floats(inBuffer(i)); }
  float* out(int i) const { return floats(outBuffer(i)); }
  const int64_t* inInts(int i) const { return reinterpret_cast<const int64_t*>(arena_ + inBuffer(i).offset); }
  const Shape& inShape(int i) const { return inBuffer(i).shape; }
  const Shape& outShape(int i) const { return outBuffer(i).shape; }
  int64_t inCount(int i) const { return elementsOf(inShape(i)); }
  kernels::RowBand inBand(int i) const { return band(inBuffer(i)); }
  kernels::RowBand outBand(int i) const { return band(outBuffer(i)); }
  // BatchNorm's view of a tensor of any rank >= 2 (N x C x H x W, H = dim 2, W = the product
  // of the rest, 1 where absent); a band as itself.
  kernels::RowBand inMap(int i) const { return map(inBuffer(i)); }
  kernels::RowBand outMap(int i) const { return map(outBuffer(i)); }
  float* scratch() const { return step.scratch ? floats(*step.scratch) : nullptr; }
  int64_t scratchFloats() const { return step.scratch ? static_cast<int64_t>(step.scratch->bytes / 4) : 0; }
  int numInputs() const { return static_cast<int>(step.inputs.size()); }
  int numOutputs() const { return static_cast<int>(step.outputs.size()); }

  // Whether the step runs on rows; otherwise the whole-tensor paths apply.
  bool byRows() const { return step.byRows; }
  // The accumulating form (PreparedStep::accumulate): out(0) is added into, not cleared first.
  bool accumulates() const { return step.accumulate; }
  // The rows of output gradient operand i (global rows of the forward output) a backward step
  // propagates: its `rows` attribute, or all rows that operand holds.
  kernels::RowRange gradRows(int i) const { return step.rows ? *step.rows : inMap(i).range(); }
  // The step's parameters, of its kernel's struct (runtime/kernels/).
  template <class P>
  const P& params() const {
    return std::get<P>(step.params);
  }

  const PreparedStep& step;

 private:
  unsigned char* arena_;

  float* floats(const StepBuffer& b) const { return reinterpret_cast<float*>(arena_ + b.offset); }
  kernels::RowBand band(const StepBuffer& b) const {
    const Shape& s = b.shape;
    if (b.height == 0) return kernels::full_band(floats(b), s[0], s[1], s[2], s[3]);
    return {floats(b), s[0], s[1], b.height, s[3], b.row0, s[2]};
  }
  kernels::RowBand map(const StepBuffer& b) const {
    if (b.height > 0) return band(b);
    const Shape& s = b.shape;
    const int64_t H = s.size() > 2 ? s[2] : 1;
    int64_t W = 1;
    for (size_t i = 3; i < s.size(); ++i) W *= s[i];
    return kernels::full_band(floats(b), s[0], s[1], H, W);
  }
};

}  // namespace lrc::runtime

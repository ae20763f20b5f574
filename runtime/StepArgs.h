// One plan step's view of an arena, shared by every backend: its operands, results and
// scratch by position, as raw pointers into the arena (host or device memory: nothing here
// reads through them) and as row bands. A buffer with band geometry (plan.proto: height > 0)
// is seen as that band of its map; any other rank-4 buffer as the band of all its rows.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/PlanLoader.h"
#include "runtime/PreparedStep.h"
#include "runtime/kernels/Dense.h"
#include "runtime/kernels/RowBand.h"
#include "runtime/plan/Plan.h"

namespace lrc::runtime {

using Shape = std::vector<int64_t>;

inline int64_t elementsOf(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// Strides that index an operand of `shape` by the position in `out` (numpy broadcasting,
// shapes aligned on the right): 0 on broadcast axes.
inline std::vector<int64_t> broadcastStrides(const Shape& shape, const Shape& out) {
  std::vector<int64_t> strides(out.size(), 0);
  const size_t offset = out.size() - shape.size();
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[offset + i] = shape[i] == 1 ? 0 : stride;
    stride *= shape[i];
  }
  return strides;
}

class StepArgs {
 public:
  StepArgs(unsigned char* arena, const plan::Plan& plan, const plan::Step& step)
      : step(step), arena_(arena), plan_(plan) {}

  const plan::Buffer& inBuffer(int i) const { return buffer(step.inputs(i)); }
  const plan::Buffer& outBuffer(int i) const { return buffer(step.outputs(i)); }
  float* in(int i) const { return floats(inBuffer(i)); }
  float* out(int i) const { return floats(outBuffer(i)); }
  const int64_t* inInts(int i) const { return reinterpret_cast<const int64_t*>(arena_ + inBuffer(i).offset()); }
  Shape inShape(int i) const { return shapeOf(inBuffer(i)); }
  Shape outShape(int i) const { return shapeOf(outBuffer(i)); }
  int64_t inCount(int i) const { return elementsOf(inShape(i)); }
  kernels::RowBand inBand(int i) const { return band(inBuffer(i)); }
  kernels::RowBand outBand(int i) const { return band(outBuffer(i)); }
  // BatchNorm's view of a tensor of any rank >= 2 (N x C x H x W, H = dim 2, W = the product
  // of the rest, 1 where absent); a band as itself.
  kernels::RowBand inMap(int i) const { return map(inBuffer(i)); }
  kernels::RowBand outMap(int i) const { return map(outBuffer(i)); }
  float* scratch() const {
    return step.scratch() < 0 ? nullptr : floats(buffer(static_cast<uint32_t>(step.scratch())));
  }
  int64_t scratchFloats() const {
    return step.scratch() < 0 ? 0 : static_cast<int64_t>(buffer(static_cast<uint32_t>(step.scratch())).bytes() / 4);
  }
  int numInputs() const { return step.inputs_size(); }
  int numOutputs() const { return step.outputs_size(); }

  // Whether the step runs on rows (runsOnRows); otherwise the whole-tensor paths apply.
  bool byRows() const { return runsOnRows(plan_, step); }
  // The rows of output gradient operand i (global rows of the forward output) a backward step
  // propagates: its `rows` attribute, or all rows that operand holds.
  kernels::RowRange gradRows(int i) const {
    if (const plan::Attr* rows = findAttr(step, "rows")) return {rows->ints(0), rows->ints(1)};
    return inMap(i).range();
  }

  const plan::Step& step;

 private:
  unsigned char* arena_;
  const plan::Plan& plan_;

  const plan::Buffer& buffer(uint32_t index) const { return plan_.buffers(static_cast<int>(index)); }
  float* floats(const plan::Buffer& b) const { return reinterpret_cast<float*>(arena_ + b.offset()); }
  static Shape shapeOf(const plan::Buffer& b) { return {b.shape().begin(), b.shape().end()}; }
  kernels::RowBand band(const plan::Buffer& b) const {
    if (b.height() == 0) return kernels::full_band(floats(b), b.shape(0), b.shape(1), b.shape(2), b.shape(3));
    return {floats(b), b.shape(0), b.shape(1), b.height(), b.shape(3), b.row0(), b.shape(2)};
  }
  kernels::RowBand map(const plan::Buffer& b) const {
    if (b.height() > 0) return band(b);
    const Shape s = shapeOf(b);
    const int64_t H = s.size() > 2 ? s[2] : 1;
    int64_t W = 1;
    for (size_t i = 3; i < s.size(); ++i) W *= s[i];
    return kernels::full_band(floats(b), s[0], s[1], H, W);
  }
};

}  // namespace lrc::runtime

namespace lrc::runtime {

// A Gemm (or MatMul: no transposes, alpha = beta = 1) step's sizes and attributes, and how
// its C operand (validated to broadcast to [M, N]) is laid out: [] or one value, [N] or
// [1, N], [M, 1], or [M, N].
inline kernels::GemmParams gemmParams(const StepArgs& s, bool matmul) {
  const Shape a = s.inShape(0), b = s.inShape(1);
  kernels::GemmParams p;
  if (!matmul) {
    p.transA = attrInt(s.step, "transA") != 0;
    p.transB = attrInt(s.step, "transB") != 0;
    p.alpha = static_cast<float>(attrFloat(s.step, "alpha"));
    p.beta = static_cast<float>(attrFloat(s.step, "beta"));
  }
  p.M = p.transA ? a[1] : a[0];
  p.K = p.transA ? a[0] : a[1];
  p.N = p.transB ? b[0] : b[1];
  if (s.numInputs() == 3) {
    const Shape c = s.inShape(2);
    if (elementsOf(c) == 1)
      p.bias = kernels::GemmBias::Scalar;
    else if (c.size() == 1 || c[0] == 1)
      p.bias = kernels::GemmBias::Row;
    else if (c[1] == 1)
      p.bias = kernels::GemmBias::Column;
    else
      p.bias = kernels::GemmBias::Full;
  }
  return p;
}

}  // namespace lrc::runtime

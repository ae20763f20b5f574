// Strided element loops over up to kMaxRank axes, shared by both backends: numpy broadcasting
// (an operand's stride is 0 along the axes it is broadcast over), row bands (a band's rows
// [a, b) are a strided view of its buffer), and sums over axes (sum_to, reduce_mean, the
// gradients of broadcast operands). One loop serves all of them: `Reduce` writes each element
// of its result once, as `scale` times the sum of a term over the summed axes in increasing
// index order (no atomics: the CPU loop and a CUDA thread per element make the same sums); an
// element-wise op is the case with no summed axes.
//
// The host builds a loop with `ReduceLoop::over(extent, resultStrides)` (an axis the result's
// stride is 0 along, of extent > 1, is summed) and each operand with `operand(p, strides)`,
// all strides given by position in `extent`.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/kernels/Portable.h"
#include "runtime/kernels/RowBand.h"

namespace lrc::kernels {

inline constexpr int kMaxRank = 8;

// The extents of some axes, and an index's offset along them with given strides.
struct Axes {
  int rank = 0;
  int64_t extent[kMaxRank] = {};
  LRC_HD int64_t count() const {
    int64_t n = 1;
    for (int d = 0; d < rank; ++d) n *= extent[d];
    return n;
  }
};
struct Strides {
  int64_t stride[kMaxRank] = {};
  // The offset of element i (row-major over `axes`).
  LRC_HD int64_t at(const Axes& axes, int64_t i) const {
    int64_t offset = 0;
    for (int d = axes.rank - 1; d >= 0; --d) {
      offset += (i % axes.extent[d]) * stride[d];
      i /= axes.extent[d];
    }
    return offset;
  }
};

// An operand of a loop: its data and strides along the kept and the summed axes.
struct StridedOperand {
  const float* data = nullptr;
  Strides kept, summed;
};

// Element (k along the kept axes, s along the summed ones) of x.
LRC_HD inline float load(const StridedOperand& x, const Axes& kept, const Axes& summed, int64_t k, int64_t s) {
  return x.data[x.kept.at(kept, k) + x.summed.at(summed, s)];
}

// The kept axes (one result element each) and the summed ones.
struct ReduceLoop {
  Axes kept, summed;
  std::vector<int> keptAxes, summedAxes;  // host side: positions in the extent given to over()
  Strides result;

  static ReduceLoop over(const std::vector<int64_t>& extent, const std::vector<int64_t>& resultStrides) {
    if (extent.size() > static_cast<size_t>(kMaxRank))
      throw std::invalid_argument("element loops support rank <= " + std::to_string(kMaxRank) + ", got " +
                                  std::to_string(extent.size()));
    ReduceLoop l;
    for (size_t d = 0; d < extent.size(); ++d) {
      if (extent[d] == 1) continue;  // contributes nothing to any offset
      const bool summed = resultStrides[d] == 0;
      Axes& axes = summed ? l.summed : l.kept;
      (summed ? l.summedAxes : l.keptAxes).push_back(static_cast<int>(d));
      axes.extent[axes.rank++] = extent[d];
    }
    l.result = split(resultStrides, l.keptAxes);
    return l;
  }
  StridedOperand operand(const float* data, const std::vector<int64_t>& strides) const {
    return {data, split(strides, keptAxes), split(strides, summedAxes)};
  }
 private:
  static Strides split(const std::vector<int64_t>& strides, const std::vector<int>& axes) {
    Strides s;
    for (size_t i = 0; i < axes.size(); ++i) s.stride[i] = strides[static_cast<size_t>(axes[i])];
    return s;
  }
};

// reduce_mean's and reduce_mean_grad's attributes: the reduced axes (sorted, >= 0), `sum`
// (ONNX ReduceSum: the sum, its gradient dy broadcast back, nothing divided), and `input_shape`
// (empty if absent): the map whose axes' size the mean divides by, when it is not the reduce's
// own operand (a recomputed SE mean of strip sums) or the gradient's own result (a band).
struct ReduceMeanParams {
  std::vector<int64_t> axes;
  bool sum = false;
  std::vector<int64_t> inputShape;
};

// transpose's attribute: y's axis d is x's axis perm[d].
struct TransposeParams {
  std::vector<int64_t> perm;
};

// Contiguous strides of `shape`; numpy-broadcast strides of an operand of `shape` by position in
// `out` (shapes aligned on the right, 0 on broadcast axes).
inline std::vector<int64_t> contiguousStrides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> strides(shape.size(), 0);
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= shape[i];
  }
  return strides;
}
inline std::vector<int64_t> broadcastStrides(const std::vector<int64_t>& shape, const std::vector<int64_t>& out) {
  std::vector<int64_t> strides(out.size(), 0);
  const size_t offset = out.size() - shape.size();
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[offset + i] = shape[i] == 1 ? 0 : stride;
    stride *= shape[i];
  }
  return strides;
}
// The strides of rows [a, b) of a band, iterated as [N, C, b - a, W]; its data pointer is
// band.row(0, 0, a).
inline std::vector<int64_t> bandStrides(const ConstRowBand& band) {
  return {band.C * band.rows * band.W, band.rows * band.W, band.W, 1};
}

// result[k] = scale * sum over the summed axes of term(loop, k, s): a functor of `Term`
// (trivially copyable, LRC_HD), run for every k < loop.kept.count() (any order).
template <class Term>
struct Reduce {
  float* result;
  Axes kept, summed;
  Strides resultStrides;
  Term term;
  float scale;
  LRC_HD void operator()(int64_t k) const {
    float sum = 0.0f;
    const int64_t n = summed.count();
    for (int64_t s = 0; s < n; ++s) sum += term(kept, summed, k, s);
    result[resultStrides.at(kept, k)] = sum * scale;
  }
};
template <class Term>
Reduce<Term> makeReduce(float* result, const ReduceLoop& l, const Term& term, float scale = 1.0f) {
  return {result, l.kept, l.summed, l.result, term, scale};
}

// A term has kArity operands (`operand(i)`) and its formula `of(values)` of one element of each;
// `operator()` loads them by index (the CUDA loop: a thread per result element), and the CPU
// loop (runtime/cpu/StridedLoop.h) walks the same elements by running offsets.

// The operand's value: sum_to, reduce_mean, reduce_mean_grad (a broadcast, nothing summed).
struct ValueTerm {
  StridedOperand x;
  static constexpr int kArity = 1;
  LRC_HD const StridedOperand& operand(int) const { return x; }
  LRC_HD float of(const float* v) const { return v[0]; }
  LRC_HD float operator()(const Axes& kept, const Axes& summed, int64_t k, int64_t s) const {
    const float v[1] = {load(x, kept, summed, k, s)};
    return of(v);
  }
};

}  // namespace lrc::kernels

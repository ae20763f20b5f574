// The CPU's run of a strided loop (runtime/kernels/Strided.h): the same sums as
// kernels::Reduce (each result element once, its summed elements added in increasing index
// order, so the CUDA loop's results bit for bit), with each operand's offset carried along an
// odometer over the axes instead of divided out of a flat index for every element. Threads
// (Parallel.h) split the kept elements: each result is one thread's sum.
#pragma once

#include <algorithm>
#include <cstdint>

#include "runtime/cpu/Parallel.h"
#include "runtime/kernels/Strided.h"

namespace lrc::cpu {

namespace strided_detail {

// Offsets of Arity operands walked row-major over `axes`: the innermost axis is left to the
// caller's loop; step() moves to the start of the next innermost run.
template <int Arity>
struct Odometer {
  const kernels::Axes& axes;
  const kernels::Strides* strides[Arity];
  int64_t index[kernels::kMaxRank] = {};
  int64_t offset[Arity] = {};

  void step() {
    for (int d = axes.rank - 2; d >= 0; --d) {
      ++index[d];
      for (int i = 0; i < Arity; ++i) offset[i] += strides[i]->stride[d];
      if (index[d] < axes.extent[d]) return;
      for (int i = 0; i < Arity; ++i) offset[i] -= axes.extent[d] * strides[i]->stride[d];
      index[d] = 0;
    }
  }
  // To the start of innermost run `run` (0: the first), as `run` calls of step() would.
  void seek(int64_t run) {
    for (int i = 0; i < Arity; ++i) offset[i] = 0;
    for (int d = axes.rank - 2; d >= 0; --d) {
      index[d] = run % axes.extent[d];
      run /= axes.extent[d];
      for (int i = 0; i < Arity; ++i) offset[i] += index[d] * strides[i]->stride[d];
    }
  }
  int64_t inner() const { return axes.rank ? axes.extent[axes.rank - 1] : 1; }
  int64_t innerStride(int i) const { return axes.rank ? strides[i]->stride[axes.rank - 1] : 0; }
};

}  // namespace strided_detail

// result[k] = scale * (sum over the summed axes of term) for every kept element k.
template <class Term>
void runStrided(float* result, const kernels::ReduceLoop& loop, const Term& term, float scale = 1.0f) {
  using strided_detail::Odometer;
  constexpr int A = Term::kArity;
  const float* base[A];
  // Kept axes: the operands' kept strides and, last, the result's.
  Odometer<A + 1> kept{loop.kept, {}};
  Odometer<A> summed{loop.summed, {}};
  for (int i = 0; i < A; ++i) {
    base[i] = term.operand(i).data;
    kept.strides[i] = &term.operand(i).kept;
    summed.strides[i] = &term.operand(i).summed;
  }
  kept.strides[A] = &loop.result;
  const int64_t keptInner = kept.inner(), summedInner = summed.inner();
  const int64_t summedRuns = loop.summed.count() / summedInner;
  int64_t kStride[A + 1], sStride[A];
  for (int i = 0; i <= A; ++i) kStride[i] = kept.innerStride(i);
  for (int i = 0; i < A; ++i) sStride[i] = summed.innerStride(i);
  const int64_t keptRuns = loop.kept.count() / keptInner;
  // Kept element e is j = e % keptInner of innermost run e / keptInner.
  parallel_for(keptRuns * keptInner, loop.summed.count(), [&](int64_t begin, int64_t end) {
    Odometer<A + 1> k = kept;  // this chunk's own odometers
    Odometer<A> s = summed;
    k.seek(begin / keptInner);
    float v[A];
    for (int64_t run = begin / keptInner; run * keptInner < end; ++run, k.step()) {
      const int64_t jEnd = std::min(keptInner, end - run * keptInner);
      for (int64_t j = std::max<int64_t>(begin - run * keptInner, 0); j < jEnd; ++j) {
        float sum = 0.0f;
        if (loop.summed.rank == 0) {
          for (int i = 0; i < A; ++i) v[i] = base[i][k.offset[i] + j * kStride[i]];
          sum += term.of(v);
        } else {
          for (int i = 0; i < A; ++i) s.offset[i] = 0;
          for (int d = 0; d < loop.summed.rank; ++d) s.index[d] = 0;
          for (int64_t sRun = 0; sRun < summedRuns; ++sRun, s.step()) {
            for (int64_t t = 0; t < summedInner; ++t) {
              for (int i = 0; i < A; ++i) v[i] = base[i][k.offset[i] + j * kStride[i] + s.offset[i] + t * sStride[i]];
              sum += term.of(v);
            }
          }
        }
        result[k.offset[A] + j * kStride[A]] = sum * scale;
      }
    }
  });
}

}  // namespace lrc::cpu

// Resize of the CUDA backend, as cpu/Resize.h: the element rules of runtime/kernels/Resize.h,
// one thread per output element forward and one per input-gradient element backward (the
// gather form of the adjoint: no atomics).
#pragma once

#include <cstdint>

#include "runtime/kernels/Resize.h"
#include "runtime/cuda/Device.h"
#include "runtime/cuda/Elementwise.cuh"

namespace lrc::cuda {

// Output rows [a, b).
template <class D>
void resize_rows_forward(D& dev, kernels::RowBand y, kernels::ConstRowBand x, const kernels::ResizeParams& p, int64_t a,
                         int64_t b) {
  forRows(dev, y.N, y.C, y.W, a, b, kernels::ResizeForward{y, x, p});
}

// dx += the adjoint of output-gradient rows [a, b), on the input rows they reach.
template <class D>
void resize_rows_backward(D& dev, kernels::RowBand dx, kernels::ConstRowBand dy, const kernels::ResizeParams& p,
                          int64_t a, int64_t b) {
  const kernels::RowRange reached = kernels::resize_input_rows(p, a, b);
  forRows(dev, dx.N, dx.C, dx.W, reached.begin, reached.end, kernels::ResizeBackward{dx, dy, p, a, b});
}

}  // namespace lrc::cuda

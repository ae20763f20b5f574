// Resize (nearest or bilinear, ops/Resize.h's sampling formula) on row bands, shared by the
// CPU and CUDA backends: its parameters and its two element rules, one output element forward
// and one input-gradient element backward. The backward is the gather form of the adjoint: an
// input element sums the output gradients of the outputs that read it (ops::resizeReaders),
// each times the weight it had, so both backends run the same arithmetic and nothing needs
// atomics.
#pragma once

#include <cstdint>

#include "ops/Resize.h"
#include "runtime/kernels/Portable.h"
#include "runtime/kernels/RowBand.h"

namespace lrc::kernels {

// The height and width axes: extents, ONNX scale and modes (ops::resizeAxes builds them).
struct ResizeParams {
  ops::ResizeAxis h, w;
};

// (1 - w1) * v0 + w1 * v1, and v0 itself where w1 is 0 (nearest, or an exact coordinate), so
// that an infinite value in an unread tap does not turn it into NaN.
LRC_HD inline double resize_lerp(double v0, double v1, double w1) { return w1 == 0.0 ? v0 : (1.0 - w1) * v0 + w1 * v1; }

// y(n, c, oh, ow) from the input rows its taps name (x must hold them).
struct ResizeForward {
  RowBand y;
  ConstRowBand x;
  ResizeParams p;
  LRC_HD void operator()(int64_t n, int64_t c, int64_t oh, int64_t ow) const {
    const ops::ResizeTaps th = ops::resizeTaps(p.h, oh), tw = ops::resizeTaps(p.w, ow);
    const float* r0 = x.row(n, c, th.i0);
    const float* r1 = x.row(n, c, th.i1);
    const double top = resize_lerp(r0[tw.i0], r0[tw.i1], tw.w1);
    const double bottom = resize_lerp(r1[tw.i0], r1[tw.i1], tw.w1);
    y.at(n, c, oh, ow) = static_cast<float>(resize_lerp(top, bottom, th.w1));
  }
};

// dx(n, c, ih, iw) += the sum over the outputs of dy rows [a, b) that read it of dy times
// their weight for it.
struct ResizeBackward {
  RowBand dx;
  ConstRowBand dy;
  ResizeParams p;
  int64_t a, b;
  LRC_HD void operator()(int64_t n, int64_t c, int64_t ih, int64_t iw) const {
    const std::pair<int64_t, int64_t> rows = ops::resizeReaders(p.h, ih, a, b);
    const std::pair<int64_t, int64_t> cols = ops::resizeReaders(p.w, iw, 0, dy.W);
    double sum = 0.0;
    for (int64_t oh = rows.first; oh < rows.second; ++oh) {
      const double wh = ops::resizeWeight(ops::resizeTaps(p.h, oh), ih);
      const float* g = dy.row(n, c, oh);
      for (int64_t ow = cols.first; ow < cols.second; ++ow)
        sum += wh * ops::resizeWeight(ops::resizeTaps(p.w, ow), iw) * g[ow];
    }
    dx.at(n, c, ih, iw) += static_cast<float>(sum);
  }
};

// The input rows output rows [a, b) read, which the backward's input-gradient rows are too.
inline RowRange resize_input_rows(const ResizeParams& p, int64_t a, int64_t b) {
  const std::pair<int64_t, int64_t> r = ops::resizeInputRows(p.h, a, b);
  return {r.first, r.second};
}

}  // namespace lrc::kernels

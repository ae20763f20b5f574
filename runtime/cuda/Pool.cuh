// Pooling and padding of the CUDA backend, as cpu/Pool.h and cpu/Pad.h: one thread per
// output element forward; backward is a gather (one thread per input element sums the
// output gradients whose window took it), so nothing needs atomics.
#pragma once

#include <cmath>
#include <cstdint>

#include "runtime/kernels/Pad.h"
#include "runtime/kernels/Pool.h"
#include "runtime/cuda/Device.h"
#include "runtime/cuda/Elementwise.cuh"

namespace lrc::cuda {

namespace pool_detail {

using kernels::AvgSpan;
using kernels::Taps;

// The max of a window and where it is: the first maximum in row-major scan order, a NaN
// wins (the last one), -inf with the first tap's position when nothing beats it, and no
// position (ih = -1) when the window has no in-bounds element.
struct WindowMax {
  float value;
  int64_t ih, iw;
};
LRC_HD inline WindowMax windowMax(const kernels::ConstRowBand& x, int64_t n, int64_t c, const kernels::Pool2dParams& p,
                                  int64_t oh, int64_t ow) {
  const Taps th = kernels::valid_taps(p.h, oh, x.H), tw = kernels::valid_taps(p.w, ow, x.W);
  WindowMax m{-INFINITY, -1, -1};
  if (th.lo >= th.hi || tw.lo >= tw.hi) return m;
  m.ih = th.start + th.lo * p.h.dilation;
  m.iw = tw.start + tw.lo * p.w.dilation;
  for (int64_t i = th.lo; i < th.hi; ++i) {
    const int64_t ih = th.start + i * p.h.dilation;
    for (int64_t j = tw.lo; j < tw.hi; ++j) {
      const int64_t iw = tw.start + j * p.w.dilation;
      const float v = x.at(n, c, ih, iw);
      if (v > m.value || v != v) m = {v, ih, iw};  // v != v: NaN
    }
  }
  return m;
}

struct PoolForward {
  kernels::RowBand y;
  kernels::ConstRowBand x;
  kernels::Pool2dParams p;
  bool average;
  LRC_HD void operator()(int64_t n, int64_t c, int64_t oh, int64_t ow) const {
    if (!average) {
      y.at(n, c, oh, ow) = windowMax(x, n, c, p, oh, ow).value;
      return;
    }
    const AvgSpan sh = kernels::avg_span(p.h, oh, x.H), sw = kernels::avg_span(p.w, ow, x.W);
    if (sh.lo >= sh.hi || sw.lo >= sw.hi) {
      y.at(n, c, oh, ow) = 0.0f;
      return;
    }
    double sum = 0.0;
    for (int64_t ih = sh.lo; ih < sh.hi; ++ih)
      for (int64_t iw = sw.lo; iw < sw.hi; ++iw) sum += x.at(n, c, ih, iw);
    y.at(n, c, oh, ow) = static_cast<float>(sum / kernels::avg_divisor(p, sh, sw));
  }
};

// The output indices [first, last] of `limit` whose window starts within `kernel` (times
// dilation) before x: those that may read x.
LRC_HD inline void readers(const kernels::WindowAxis& axis, int64_t x, int64_t limit, int64_t* first, int64_t* last) {
  const int64_t reach = x + axis.padBegin;  // o * stride <= reach, o * stride + (k-1) * d >= reach
  const int64_t low = reach - (axis.kernel - 1) * axis.dilation;
  *first = low <= 0 ? 0 : (low + axis.stride - 1) / axis.stride;
  *last = reach < 0 ? -1 : reach / axis.stride;
  if (*last > limit - 1) *last = limit - 1;
}

// dx (n, c, ih, iw) += the output gradients of rows [a, b) whose window took this element.
struct PoolBackward {
  kernels::RowBand dx;
  kernels::ConstRowBand dy, x;  // x: max pooling's input
  kernels::Pool2dParams p;
  bool average;
  int64_t a, b;
  LRC_HD void operator()(int64_t n, int64_t c, int64_t ih, int64_t iw) const {
    int64_t oh0, oh1, ow0, ow1;
    readers(p.h, ih, b, &oh0, &oh1);
    readers(p.w, iw, dy.W, &ow0, &ow1);
    if (oh0 < a) oh0 = a;
    float sum = 0.0f;
    for (int64_t oh = oh0; oh <= oh1; ++oh)
      for (int64_t ow = ow0; ow <= ow1; ++ow) {
        if (average) {
          const AvgSpan sh = kernels::avg_span(p.h, oh, dx.H), sw = kernels::avg_span(p.w, ow, dx.W);
          if (ih < sh.lo || ih >= sh.hi || iw < sw.lo || iw >= sw.hi) continue;
          sum += static_cast<float>(dy.at(n, c, oh, ow) / kernels::avg_divisor(p, sh, sw));
        } else {
          const WindowMax m = windowMax(x, n, c, p, oh, ow);
          if (m.ih == ih && m.iw == iw) sum += dy.at(n, c, oh, ow);
        }
      }
    dx.at(n, c, ih, iw) += sum;
  }
};

struct PadForward {
  kernels::RowBand y;
  kernels::ConstRowBand x;
  kernels::PadParams p;
  LRC_HD void operator()(int64_t n, int64_t c, int64_t h, int64_t w) const {
    const int64_t in = n - p.pads[0], ic = c - p.pads[1], ih = h - p.pads[2], iw = w - p.pads[3];
    const bool inside = in >= 0 && in < x.N && ic >= 0 && ic < x.C && ih >= 0 && ih < x.H && iw >= 0 && iw < x.W;
    y.at(n, c, h, w) = inside ? x.at(in, ic, ih, iw) : p.value;
  }
};

struct PlaneElement {
  const float* x;
  int64_t HW;
  LRC_HD void operator()(int64_t nc, int64_t i, double* acc) const { acc[0] += x[nc * HW + i]; }
};
struct PlaneMean {
  float* y;
  int64_t HW;
  LRC_HD void operator()(int64_t nc, const double* total) const {
    y[nc] = static_cast<float>(total[0] / static_cast<double>(HW));
  }
};

struct GlobalAvgBackward {
  float* dx;
  const float* dy;
  int64_t HW;
  LRC_HD void operator()(int64_t i) const { dx[i] = static_cast<float>(dy[i / HW] / static_cast<double>(HW)); }
};

}  // namespace pool_detail

// Max or average pooling, output rows [a, b).
template <class D>
void pool2d_rows_forward(D& dev, kernels::RowBand y, kernels::ConstRowBand x, const kernels::Pool2dParams& p,
                         bool average, int64_t a, int64_t b) {
  forRows(dev, y.N, y.C, y.W, a, b, pool_detail::PoolForward{y, x, p, average});
}

// dx += the gradient of output rows [a, b) (x: max pooling's input; unused for average).
template <class D>
void pool2d_rows_backward(D& dev, kernels::RowBand dx, kernels::ConstRowBand dy, kernels::ConstRowBand x,
                          const kernels::Pool2dParams& p, bool average, int64_t a, int64_t b) {
  const kernels::RowRange read = kernels::window_input_rows(p.h, a, b, dx.H);
  forRows(dev, dx.N, dx.C, dx.W, read.begin, read.end, pool_detail::PoolBackward{dx, dy, x, p, average, a, b});
}

// y[nc] = mean of plane nc of x (N*C planes of HW).
template <class D>
void global_avgpool_forward(D& dev, float* y, const float* x, int64_t planes, int64_t HW) {
  dev.template segmentReduce<1>(planes, HW, pool_detail::PlaneElement{x, HW}, pool_detail::PlaneMean{y, HW});
}

// dx = dy / HW over each plane (written, not added).
template <class D>
void global_avgpool_backward(D& dev, float* dx, const float* dy, int64_t planes, int64_t HW) {
  dev.forEach(planes * HW, pool_detail::GlobalAvgBackward{dx, dy, HW});
}

// Output rows [a, b) of the padded (or cropped) map.
template <class D>
void pad_rows_forward(D& dev, kernels::RowBand y, kernels::ConstRowBand x, const kernels::PadParams& p, int64_t a,
                      int64_t b) {
  forRows(dev, y.N, y.C, y.W, a, b, pool_detail::PadForward{y, x, p});
}

}  // namespace lrc::cuda

// 2-D convolution of the CUDA backend on row bands, as cpu/Conv.h: per image and group, an
// im2col kernel into the plan's conv scratch (the same size the CPU uses, so the arena is the
// same) and one SGEMM (cuBLAS). The input gradient's col2im is a gather: one thread per input
// element sums the column entries that read it, so nothing needs atomics and the result does
// not depend on thread order. A 1x1, stride-1, unpadded convolution multiplies the bands
// directly, as on the CPU, and (forward and input gradient) for all images in one strided
// batched SGEMM; the weight gradient adds every image into the same matrix, so it stays one
// SGEMM per image.
#pragma once

#include <cstdint>

#include "runtime/cpu/Conv.h"
#include "runtime/cuda/Device.h"
#include "runtime/cuda/Elementwise.cuh"
#include "runtime/cuda/Reduce.cuh"

namespace lrc::cuda {

namespace conv_detail {

inline bool isDirect(const cpu::Conv2dParams& p) {
  return p.h.kernel == 1 && p.w.kernel == 1 && p.h.stride == 1 && p.w.stride == 1 && p.h.padBegin == 0 &&
         p.h.padEnd == 0 && p.w.padBegin == 0 && p.w.padEnd == 0;
}

// The column matrix [Cg * kH * kW][(b - a) * OW] of image n, channels [c0, c0 + Cg): entry
// ((c * kH + ki) * kW + kj, (oh - a) * OW + ow) is input (c0 + c, oh * sh - ph + ki * dh,
// ow * sw - pw + kj * dw), 0 in the padding.
struct Im2col {
  float* col;
  Band<const float> in;
  int64_t n, c0, OW, a, rows;
  cpu::WindowAxis h, w;
  LRC_HD void operator()(int64_t i) const {
    const int64_t cols = rows * OW;
    const int64_t r = i / cols, j = i % cols;
    const int64_t kj = r % w.kernel, ki = (r / w.kernel) % h.kernel, c = r / (w.kernel * h.kernel);
    const int64_t oh = a + j / OW, ow = j % OW;
    const int64_t ih = oh * h.stride - h.padBegin + ki * h.dilation;
    const int64_t iw = ow * w.stride - w.padBegin + kj * w.dilation;
    col[i] = ih >= 0 && ih < in.H && iw >= 0 && iw < in.W ? in.at(n, c0 + c, ih, iw) : 0.0f;
  }
};

// One tap axis of the gather: the output index o that reads input index x through tap k, if
// any (x = o * stride - padBegin + k * dilation with 0 <= o < limit).
LRC_HD inline bool tapOutput(const cpu::WindowAxis& axis, int64_t x, int64_t k, int64_t limit, int64_t* o) {
  const int64_t t = x + axis.padBegin - k * axis.dilation;
  if (t < 0 || t % axis.stride != 0) return false;
  *o = t / axis.stride;
  return *o < limit;
}

// dIn rows [r0, r0 + rows) of image n, channels [c0, c0 + Cg) += col2im(col), col being the
// column matrix of output rows [a, b) (Im2col's layout).
struct Col2imAdd {
  Band<float> dIn;
  const float* col;
  int64_t n, c0, Cg, r0, rows, OW, a, b;
  cpu::WindowAxis h, w;
  LRC_HD void operator()(int64_t i) const {
    const int64_t iw = i % dIn.W;
    const int64_t ih = r0 + (i / dIn.W) % rows;
    const int64_t c = i / (dIn.W * rows);
    const int64_t cols = (b - a) * OW;
    float sum = 0.0f;
    for (int64_t ki = 0; ki < h.kernel; ++ki) {
      int64_t oh;
      if (!tapOutput(h, ih, ki, b, &oh) || oh < a) continue;
      for (int64_t kj = 0; kj < w.kernel; ++kj) {
        int64_t ow;
        if (!tapOutput(w, iw, kj, OW, &ow)) continue;
        sum += col[((c * h.kernel + ki) * w.kernel + kj) * cols + (oh - a) * OW + ow];
      }
    }
    dIn.at(n, c0 + c, ih, iw) += sum;
  }
};

// out rows [a, b) += bias[channel].
struct AddBias {
  Band<float> out;
  const float* bias;
  LRC_HD void operator()(int64_t n, int64_t c, int64_t h, int64_t w) const { out.at(n, c, h, w) += bias[c]; }
};

struct Shape {
  int64_t Cg, Kg, patch, OW;
  bool direct;
};
inline Shape shapeOf(const cpu::Conv2dParams& p, int64_t C, int64_t K, int64_t OW) {
  return {C / p.group, K / p.group, (C / p.group) * p.h.kernel * p.w.kernel, OW, isDirect(p)};
}

// The column matrix of image n, group g and its row stride: the band itself when direct.
template <class D>
const float* columns(D& dev, Band<const float> in, int64_t n, int64_t g, const Shape& s, const cpu::Conv2dParams& p,
                     int64_t a, int64_t b, float* workspace, int64_t* ld) {
  if (s.direct) {
    *ld = in.rows * in.W;
    return in.row(n, g * s.Cg, a);
  }
  *ld = (b - a) * s.OW;
  dev.forEach(s.patch * (b - a) * s.OW, Im2col{workspace, in, n, g * s.Cg, s.OW, a, b - a, p.h, p.w});
  return workspace;
}

}  // namespace conv_detail

// out rows [a, b) = conv(in) + bias (bias may be null). As cpu::conv2d_rows_forward.
template <class D>
void conv2d_rows_forward(D& dev, Band<float> out, Band<const float> in, const float* weight, const float* bias,
                         const cpu::Conv2dParams& p, int64_t a, int64_t b, float* workspace) {
  if (a >= b) return;
  const conv_detail::Shape s = conv_detail::shapeOf(p, in.C, out.C, out.W);
  const int64_t cols = (b - a) * out.W;
  if (s.direct) {  // the bands are the matrices: one batched product over the images per group
    for (int64_t g = 0; g < p.group; ++g)
      sgemmBatched(dev, in.N, false, false, s.Kg, cols, s.patch, 1.0f, weight + g * s.Kg * s.patch, s.patch, 0,
                   in.row(0, g * s.Cg, a), in.rows * in.W, in.C * in.rows * in.W, 0.0f, out.row(0, g * s.Kg, a),
                   out.rows * out.W, out.C * out.rows * out.W);
  } else {
    for (int64_t n = 0; n < in.N; ++n)
      for (int64_t g = 0; g < p.group; ++g) {
        int64_t ld = 0;
        const float* col = conv_detail::columns(dev, in, n, g, s, p, a, b, workspace, &ld);
        sgemm(dev, false, false, s.Kg, cols, s.patch, 1.0f, weight + g * s.Kg * s.patch, s.patch, col, ld, 0.0f,
              out.row(n, g * s.Kg, a), out.rows * out.W);
      }
  }
  if (bias != nullptr) forRows(dev, out.N, out.C, out.W, a, b, conv_detail::AddBias{out, bias});
}

// dIn += the contribution of dOut rows [a, b). As cpu::conv2d_rows_backward_data.
template <class D>
void conv2d_rows_backward_data(D& dev, Band<float> dIn, Band<const float> dOut, const float* weight,
                               const cpu::Conv2dParams& p, int64_t a, int64_t b, float* workspace) {
  if (a >= b) return;
  const conv_detail::Shape s = conv_detail::shapeOf(p, dIn.C, dOut.C, dOut.W);
  const int64_t cols = (b - a) * dOut.W;
  const cpu::RowRange read = cpu::window_input_rows(p.h, a, b, dIn.H);
  const int64_t ldDy = dOut.rows * dOut.W;
  if (s.direct) {  // one batched product over the images per group, straight into dIn's rows
    for (int64_t g = 0; g < p.group; ++g)
      sgemmBatched(dev, dIn.N, true, false, s.patch, cols, s.Kg, 1.0f, weight + g * s.Kg * s.patch, s.patch, 0,
                   dOut.row(0, g * s.Kg, a), ldDy, dOut.C * ldDy, 1.0f, dIn.row(0, g * s.Cg, a), dIn.rows * dIn.W,
                   dIn.C * dIn.rows * dIn.W);
    return;
  }
  for (int64_t n = 0; n < dIn.N; ++n)
    for (int64_t g = 0; g < p.group; ++g) {
      const float* wg = weight + g * s.Kg * s.patch;
      const float* dy = dOut.row(n, g * s.Kg, a);
      sgemm(dev, true, false, s.patch, cols, s.Kg, 1.0f, wg, s.patch, dy, ldDy, 0.0f, workspace, cols);
      if (read.empty()) continue;
      dev.forEach(s.Cg * read.size() * dIn.W, conv_detail::Col2imAdd{dIn, workspace, n, g * s.Cg, s.Cg, read.begin,
                                                                      read.size(), dOut.W, a, b, p.h, p.w});
    }
}

// dWeight += dOut rows [a, b) correlated with the input rows they read. As
// cpu::conv2d_rows_backward_filter (without its bias: that is channel_sum).
template <class D>
void conv2d_rows_backward_filter(D& dev, float* dWeight, Band<const float> dOut, Band<const float> in,
                                 const cpu::Conv2dParams& p, int64_t a, int64_t b, float* workspace) {
  if (a >= b) return;
  const conv_detail::Shape s = conv_detail::shapeOf(p, in.C, dOut.C, dOut.W);
  const int64_t cols = (b - a) * dOut.W;
  for (int64_t n = 0; n < in.N; ++n)
    for (int64_t g = 0; g < p.group; ++g) {
      int64_t ld = 0;
      const float* col = conv_detail::columns(dev, in, n, g, s, p, a, b, workspace, &ld);
      sgemm(dev, false, true, s.Kg, s.patch, cols, 1.0f, dOut.row(n, g * s.Kg, a), dOut.rows * dOut.W, col, ld,
            1.0f, dWeight + g * s.Kg * s.patch, s.patch);
    }
}

// dBias[k] += the sum of dOut rows [a, b) of channel k over all images, in double (the
// channel_sum kernel). `partial` holds N * C doubles.
template <class D>
void conv2d_rows_backward_bias(D& dev, float* dBias, Band<const float> dOut, int64_t a, int64_t b, double* partial) {
  channel_sums<1>(dev, dOut.N, dOut.C, a, b, dOut.W, ValueOf{dOut}, partial, AddToFloat{dBias});
}

}  // namespace lrc::cuda

// 2-D convolution and transposed convolution (the convolution's input gradient, with the rows
// of the input-shaped map outside a strip's `live` rows read as 0 and never written) of the
// CUDA backend on row bands, as cpu/Conv.h: im2col kernels into the
// plan's conv scratch (so the arena is the plan's) and cuBLAS SGEMMs. The input gradient's col2im is a gather: one thread per input
// element sums the column entries that read it, so nothing needs atomics and the result does
// not depend on thread order. Images go in chunks, as many as the plan's scratch holds: one
// im2col launch and one strided batched SGEMM per chunk and group (a CPU plan's scratch holds
// one image; lrc-compile --device cuda sizes it for more). A 1x1, stride-1, unpadded
// convolution multiplies the bands directly, as on the CPU, for all images in one batched
// SGEMM; the weight gradient adds every image into the same matrix, so it stays one SGEMM per
// image.
#pragma once

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "runtime/kernels/Conv.h"
#include "runtime/cuda/Device.h"
#include "runtime/cuda/Elementwise.cuh"
#include "runtime/cuda/Reduce.cuh"

namespace lrc::cuda {

namespace conv_detail {

// The column matrices [Cg * kH * kW][(b - a) * OW] of images [n0, n0 + k), channels [c0, c0 +
// Cg), one after another (image stride patch * cols): entry ((c * kH + ki) * kW + kj, (oh -
// a) * OW + ow) of image n0 + m is input (n0 + m, c0 + c, oh * sh - ph + ki * dh, ow * sw - pw
// + kj * dw), 0 in the padding and outside the live rows.
struct Im2col {
  float* col;
  kernels::ConstRowBand in;
  int64_t n0, c0, OW, a, rows, patch;
  kernels::WindowAxis h, w;
  kernels::RowRange live;
  LRC_HD void operator()(int64_t i) const {
    const int64_t cols = rows * OW;
    const int64_t image = i / (patch * cols), r = (i / cols) % patch, j = i % cols;
    const int64_t kj = r % w.kernel, ki = (r / w.kernel) % h.kernel, c = r / (w.kernel * h.kernel);
    const int64_t oh = a + j / OW, ow = j % OW;
    const int64_t ih = oh * h.stride - h.padBegin + ki * h.dilation;
    const int64_t iw = ow * w.stride - w.padBegin + kj * w.dilation;
    col[i] = ih >= live.begin && ih < live.end && iw >= 0 && iw < in.W ? in.at(n0 + image, c0 + c, ih, iw) : 0.0f;
  }
};

// One tap axis of the gather: the output index o that reads input index x through tap k, if
// any (x = o * stride - padBegin + k * dilation with 0 <= o < limit).
LRC_HD inline bool tapOutput(const kernels::WindowAxis& axis, int64_t x, int64_t k, int64_t limit, int64_t* o) {
  const int64_t t = x + axis.padBegin - k * axis.dilation;
  if (t < 0 || t % axis.stride != 0) return false;
  *o = t / axis.stride;
  return *o < limit;
}

// dIn rows [r0, r0 + rows) of images [n0, n0 + k), channels [c0, c0 + Cg) += col2im(col),
// col holding the column matrices of output rows [a, b) of those images (Im2col's layout).
struct Col2imAdd {
  kernels::RowBand dIn;
  const float* col;
  int64_t n0, c0, Cg, r0, rows, OW, a, b;
  kernels::WindowAxis h, w;
  LRC_HD void operator()(int64_t i) const {
    const int64_t iw = i % dIn.W;
    const int64_t ih = r0 + (i / dIn.W) % rows;
    const int64_t c = (i / (dIn.W * rows)) % Cg, image = i / (dIn.W * rows * Cg);
    const int64_t cols = (b - a) * OW;
    const float* imageCol = col + image * Cg * h.kernel * w.kernel * cols;
    float sum = 0.0f;
    for (int64_t ki = 0; ki < h.kernel; ++ki) {
      int64_t oh;
      if (!tapOutput(h, ih, ki, b, &oh) || oh < a) continue;
      for (int64_t kj = 0; kj < w.kernel; ++kj) {
        int64_t ow;
        if (!tapOutput(w, iw, kj, OW, &ow)) continue;
        sum += imageCol[((c * h.kernel + ki) * w.kernel + kj) * cols + (oh - a) * OW + ow];
      }
    }
    dIn.at(n0 + image, c0 + c, ih, iw) += sum;
  }
};

// out rows [a, b) += bias[channel].
struct AddBias {
  kernels::RowBand out;
  const float* bias;
  LRC_HD void operator()(int64_t n, int64_t c, int64_t h, int64_t w) const { out.at(n, c, h, w) += bias[c]; }
};

// One call's sizes. A chunk is the images whose column matrices the scratch holds at once:
// the plan sizes a convolution's scratch for one image or more (plan-memory's
// conv-batch-bytes; lrc-compile --device cuda), and every chunk costs one im2col launch and
// one batched SGEMM instead of one of each per image.
struct Shape {
  int64_t Cg, Kg, patch, cols, chunk;
  bool direct;
};
inline Shape shapeOf(const kernels::Conv2dParams& p, int64_t N, int64_t C, int64_t K, int64_t OW, int64_t rows,
                     int64_t scratchFloats) {
  Shape s{C / p.group, K / p.group, (C / p.group) * p.h.kernel * p.w.kernel,
          rows * OW, 1, kernels::conv2d_is_direct(p)};
  const int64_t perImage = s.patch * s.cols;
  // A plan for the CPU (conv-batch-bytes=0) bounds a wide band's scratch to a chunk of its
  // rows (ops::kConvScratchCapBytes), which these kernels do not run: such a plan is refused
  // rather than overrun.
  if (!s.direct && perImage > scratchFloats)
    throw std::invalid_argument("conv2d (cuda): the plan's scratch holds " + std::to_string(scratchFloats) +
                                " floats, less than one image's columns (" + std::to_string(perImage) +
                                "): compile the plan with --device cuda");
  if (!s.direct && perImage > 0) s.chunk = std::max<int64_t>(1, std::min<int64_t>(N, scratchFloats / perImage));
  return s;
}

// im2col of images [n0, n0 + k), group g, output rows [a, b) into the scratch.
template <class D>
void im2col(D& dev, float* scratch, kernels::ConstRowBand in, int64_t n0, int64_t k, int64_t g, const Shape& s,
            const kernels::Conv2dParams& p, int64_t a, int64_t b, kernels::RowRange live) {
  dev.forEach(k * s.patch * s.cols,
              Im2col{scratch, in, n0, g * s.Cg, s.cols / (b - a), a, b - a, s.patch, p.h, p.w, live});
}

// The three products with a `live` row range of the input-shaped map (rows outside it read as
// 0 and are not written; a convolution's is the whole map) and, for the forward, `beta` (0
// overwrites the output rows, 1 adds): as the CPU's.
template <class D>
void forwardRows(D& dev, kernels::RowBand out, kernels::ConstRowBand in, const float* weight, const float* bias,
                 const kernels::Conv2dParams& p, int64_t a, int64_t b, float* workspace, int64_t scratchFloats,
                 kernels::RowRange live, float beta) {
  if (a >= b) return;
  const conv_detail::Shape s = conv_detail::shapeOf(p, in.N, in.C, out.C, out.W, b - a, scratchFloats);
  const int64_t outImage = out.C * out.rows * out.W;  // image stride of the output band
  for (int64_t g = 0; g < p.group; ++g) {
    const float* wg = weight + g * s.Kg * s.patch;
    if (s.direct) {  // the bands are the matrices: one batched product over all images
      sgemmBatched(dev, in.N, false, false, s.Kg, s.cols, s.patch, 1.0f, wg, s.patch, 0, in.row(0, g * s.Cg, a),
                   in.rows * in.W, in.C * in.rows * in.W, beta, out.row(0, g * s.Kg, a), out.rows * out.W, outImage);
      continue;
    }
    for (int64_t n0 = 0; n0 < in.N; n0 += s.chunk) {
      const int64_t k = std::min(s.chunk, in.N - n0);
      im2col(dev, workspace, in, n0, k, g, s, p, a, b, live);
      sgemmBatched(dev, k, false, false, s.Kg, s.cols, s.patch, 1.0f, wg, s.patch, 0, workspace, s.cols,
                   s.patch * s.cols, beta, out.row(n0, g * s.Kg, a), out.rows * out.W, outImage);
    }
  }
  if (bias != nullptr) forRows(dev, out.N, out.C, out.W, a, b, AddBias{out, bias});
}

template <class D>
void backwardDataRows(D& dev, kernels::RowBand dIn, kernels::ConstRowBand dOut, const float* weight,
                      const kernels::Conv2dParams& p, int64_t a, int64_t b, float* workspace, int64_t scratchFloats,
                      kernels::RowRange live) {
  if (a >= b) return;
  const conv_detail::Shape s = conv_detail::shapeOf(p, dIn.N, dIn.C, dOut.C, dOut.W, b - a, scratchFloats);
  const kernels::RowRange read = kernels::intersect(kernels::window_input_rows(p.h, a, b, dIn.H), live);
  const int64_t ldDy = dOut.rows * dOut.W;
  for (int64_t g = 0; g < p.group; ++g) {
    const float* wg = weight + g * s.Kg * s.patch;
    if (s.direct) {  // one batched product over all images, straight into dIn's rows
      sgemmBatched(dev, dIn.N, true, false, s.patch, s.cols, s.Kg, 1.0f, wg, s.patch, 0, dOut.row(0, g * s.Kg, a),
                   ldDy, dOut.C * ldDy, 1.0f, dIn.row(0, g * s.Cg, a), dIn.rows * dIn.W, dIn.C * dIn.rows * dIn.W);
      continue;
    }
    for (int64_t n0 = 0; n0 < dIn.N; n0 += s.chunk) {
      const int64_t k = std::min(s.chunk, dIn.N - n0);
      sgemmBatched(dev, k, true, false, s.patch, s.cols, s.Kg, 1.0f, wg, s.patch, 0, dOut.row(n0, g * s.Kg, a), ldDy,
                   dOut.C * ldDy, 0.0f, workspace, s.cols, s.patch * s.cols);
      if (read.empty()) continue;
      dev.forEach(k * s.Cg * read.size() * dIn.W, conv_detail::Col2imAdd{dIn, workspace, n0, g * s.Cg, s.Cg, read.begin,
                                                                          read.size(), dOut.W, a, b, p.h, p.w});
    }
  }
}

// Every image adds into the same weight-gradient matrix, so the products stay one per image;
// the im2col is one per chunk.
template <class D>
void backwardFilterRows(D& dev, float* dWeight, kernels::ConstRowBand dOut, kernels::ConstRowBand in,
                        const kernels::Conv2dParams& p, int64_t a, int64_t b, float* workspace, int64_t scratchFloats,
                        kernels::RowRange live) {
  if (a >= b) return;
  const conv_detail::Shape s = conv_detail::shapeOf(p, in.N, in.C, dOut.C, dOut.W, b - a, scratchFloats);
  const int64_t ldDy = dOut.rows * dOut.W;
  for (int64_t g = 0; g < p.group; ++g) {
    float* dWg = dWeight + g * s.Kg * s.patch;
    for (int64_t n0 = 0; n0 < in.N; n0 += s.chunk) {
      const int64_t k = std::min(s.chunk, in.N - n0);
      if (!s.direct) im2col(dev, workspace, in, n0, k, g, s, p, a, b, live);
      for (int64_t m = 0; m < k; ++m) {
        const float* col = s.direct ? in.row(n0 + m, g * s.Cg, a) : workspace + m * s.patch * s.cols;
        const int64_t ld = s.direct ? in.rows * in.W : s.cols;
        sgemm(dev, false, true, s.Kg, s.patch, s.cols, 1.0f, dOut.row(n0 + m, g * s.Kg, a), ldDy, col, ld, 1.0f, dWg,
              s.patch);
      }
    }
  }
}

}  // namespace conv_detail

// out rows [a, b) = conv(in) + bias (bias may be null). As cpu::conv2d_rows_forward.
// `scratchFloats`: the size of `workspace` (a multiple of one image's columns: the chunk).
template <class D>
void conv2d_rows_forward(D& dev, kernels::RowBand out, kernels::ConstRowBand in, const float* weight, const float* bias,
                         const kernels::Conv2dParams& p, int64_t a, int64_t b, float* workspace,
                         int64_t scratchFloats) {
  conv_detail::forwardRows(dev, out, in, weight, bias, p, a, b, workspace, scratchFloats, {0, in.H}, 0.0f);
}

// dIn += the contribution of dOut rows [a, b). As cpu::conv2d_rows_backward_data.
template <class D>
void conv2d_rows_backward_data(D& dev, kernels::RowBand dIn, kernels::ConstRowBand dOut, const float* weight,
                               const kernels::Conv2dParams& p, int64_t a, int64_t b, float* workspace,
                               int64_t scratchFloats) {
  conv_detail::backwardDataRows(dev, dIn, dOut, weight, p, a, b, workspace, scratchFloats, {0, dIn.H});
}

// dWeight += dOut rows [a, b) correlated with the input rows they read. As
// cpu::conv2d_rows_backward_filter (without its bias: that is channel_sum).
template <class D>
void conv2d_rows_backward_filter(D& dev, float* dWeight, kernels::ConstRowBand dOut, kernels::ConstRowBand in,
                                 const kernels::Conv2dParams& p, int64_t a, int64_t b, float* workspace,
                                 int64_t scratchFloats) {
  conv_detail::backwardFilterRows(dev, dWeight, dOut, in, p, a, b, workspace, scratchFloats, {0, in.H});
}

// The transposed convolution whose equivalent convolution is `p`: as
// cpu::conv_transpose2d_rows_forward (output rows [a, b) at any start; the caller has zeroed
// them), _backward_data and _backward_filter.
template <class D>
void conv_transpose2d_rows_forward(D& dev, kernels::RowBand out, kernels::ConstRowBand in, const float* weight,
                                   const float* bias, const kernels::Conv2dParams& p, int64_t a, int64_t b,
                                   float* workspace, int64_t scratchFloats) {
  if (a >= b) return;
  const kernels::RowRange x = kernels::transposed_input_rows(p.h, a, b, in.H);
  conv_detail::backwardDataRows(dev, out, in, weight, p, x.begin, x.end, workspace, scratchFloats, {a, b});
  if (bias != nullptr) forRows(dev, out.N, out.C, out.W, a, b, conv_detail::AddBias{out, bias});
}

template <class D>
void conv_transpose2d_rows_backward_data(D& dev, kernels::RowBand dIn, kernels::ConstRowBand dOut, const float* weight,
                                         const kernels::Conv2dParams& p, int64_t a, int64_t b, float* workspace,
                                         int64_t scratchFloats) {
  const kernels::RowRange x = kernels::transposed_input_rows(p.h, a, b, dIn.H);
  conv_detail::forwardRows(dev, dIn, dOut, weight, nullptr, p, x.begin, x.end, workspace, scratchFloats, {a, b}, 1.0f);
}

template <class D>
void conv_transpose2d_rows_backward_filter(D& dev, float* dWeight, kernels::ConstRowBand dOut, kernels::ConstRowBand in,
                                           const kernels::Conv2dParams& p, int64_t a, int64_t b, float* workspace,
                                           int64_t scratchFloats) {
  const kernels::RowRange x = kernels::transposed_input_rows(p.h, a, b, in.H);
  conv_detail::backwardFilterRows(dev, dWeight, in, dOut, p, x.begin, x.end, workspace, scratchFloats, {a, b});
}

// dBias[k] += the sum of dOut rows [a, b) of channel k over all images, in double (the
// channel_sum kernel). `partial` holds N * C doubles.
template <class D>
void conv2d_rows_backward_bias(D& dev, float* dBias, kernels::ConstRowBand dOut, int64_t a, int64_t b,
                               double* partial) {
  channel_sums<1>(dev, dOut.N, dOut.C, a, b, dOut.W, ValueOf{dOut}, partial, AddToFloat{dBias});
}

}  // namespace lrc::cuda

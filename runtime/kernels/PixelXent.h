// The per-pixel softmax cross-entropy (pixel_xent, the segmentation loss) on logits
// [N,K,H,W] and labels [N,H,W], as PyTorch's cross_entropy(logits, labels, ignore_index=I)
// on 4-D input: the mean, over the pixels whose label is not I ("counted"), of
// -log softmax(logits[n,:,h,w])[label]; the gradient is (softmax - onehot(label)) / counted at
// counted pixels and 0 at ignored ones. When every pixel is ignored the loss is 0/0 = NaN, as
// PyTorch's (lrc-run then stops at the non-finite loss, naming the step), and the gradient 0.
//
// Both backends run these helpers (LRC_HD): the CPU in loops (runtime/cpu/Dense.cpp), CUDA one
// thread per image row or per pixel (runtime/cuda/Dense.cuh). The loss is summed the same way
// on both: each image row (n, h) in pixel order in double, then the rows in order.
//
// On a row band (the loss inside a row pipeline, docs/row-plans.md): the logits are rows
// [row0, row0 + bandRows) of the H rows, the labels whole [N,H,W]. The count is always that of
// every pixel of the labels (the mean's denominator is global), the loss term sum and the
// gradient only those of the band's rows: the strips' partial losses add up to the mean.
#pragma once

#include <cmath>
#include <cstdint>

#include "runtime/kernels/Portable.h"

namespace lrc::kernels {

struct PixelXentParams {
  int64_t ignoreIndex = -100;
};

// One image row's part of the loss: the sum of its counted pixels' terms (double), how many
// it counts, and the column of its first label that is neither ignored nor in [0, K) (-1: none).
struct PixelXentRow {
  double loss = 0;
  int64_t counted = 0;
  int64_t badColumn = -1;
};

// -log softmax of the K logits at stride `stride` (one pixel), at class `label`, in double.
LRC_HD inline double pixel_xent_term(const float* x, int64_t stride, int64_t classes, int64_t label) {
  double max = x[0];
  for (int64_t c = 1; c < classes; ++c) max = x[c * stride] > max ? x[c * stride] : max;
  double sum = 0.0;
  for (int64_t c = 0; c < classes; ++c) sum += exp(x[c * stride] - max);
  return max + log(sum) - x[label * stride];
}

// Where the logits lie: rows [row0, row0 + bandRows) of the labels' H rows (the whole map:
// row0 = 0, bandRows = H).
struct PixelXentBand {
  int64_t row0 = 0, bandRows = 0;
  LRC_HD bool holds(int64_t h) const { return row0 <= h && h < row0 + bandRows; }
};

// Row `row` = n * H + h of the batch (of the labels); with `withLoss` false, or a row outside
// the logits' band, only the count (the gradient's normaliser) and the label check.
LRC_HD inline PixelXentRow pixel_xent_row(const float* logits, const int64_t* labels, int64_t classes, int64_t H,
                                          int64_t W, int64_t row, int64_t ignoreIndex, bool withLoss,
                                          PixelXentBand band) {
  const int64_t n = row / H, h = row % H, plane = band.bandRows * W;
  withLoss = withLoss && band.holds(h);
  const float* x = logits + n * classes * plane + (h - band.row0) * W;
  const int64_t* l = labels + row * W;
  PixelXentRow r;
  for (int64_t w = 0; w < W; ++w) {
    if (l[w] == ignoreIndex) continue;
    if (l[w] < 0 || l[w] >= classes) {
      if (r.badColumn < 0) r.badColumn = w;
      continue;
    }
    ++r.counted;
    if (withLoss) r.loss += pixel_xent_term(x + w, plane, classes, l[w]);
  }
  return r;
}

// The gradient at pixel `pixel` = (n * bandRows + h - row0) * W + w of the band: `scale` is
// 1 / counted (0 when none is). dx may alias x: each logit is read before it is written.
LRC_HD inline void pixel_xent_grad_at(float* dx, const float* x, const int64_t* labels, int64_t classes, int64_t H,
                                      int64_t W, PixelXentBand band, int64_t pixel, int64_t ignoreIndex, float scale) {
  const int64_t plane = band.bandRows * W;
  const int64_t n = pixel / plane, p = pixel % plane, base = n * classes * plane + p;
  const int64_t label = labels[n * H * W + band.row0 * W + p];
  const float* xs = x + base;
  float* ds = dx + base;
  if (label == ignoreIndex || label < 0 || label >= classes) {
    for (int64_t c = 0; c < classes; ++c) ds[c * plane] = 0.0f;
    return;
  }
  double max = xs[0];
  for (int64_t c = 1; c < classes; ++c) max = xs[c * plane] > max ? xs[c * plane] : max;
  double sum = 0.0;
  for (int64_t c = 0; c < classes; ++c) sum += exp(xs[c * plane] - max);
  for (int64_t c = 0; c < classes; ++c) {
    const float prob = static_cast<float>(exp(xs[c * plane] - max) / sum);
    ds[c * plane] = (prob - (c == label ? 1.0f : 0.0f)) * scale;
  }
}

// The gradient's scale from the count of counted pixels.
LRC_HD inline float pixel_xent_scale(int64_t counted) { return counted > 0 ? 1.0f / static_cast<float>(counted) : 0.0f; }

// The loss from the total of the terms and the count: NaN when nothing is counted (0/0).
LRC_HD inline float pixel_xent_mean(double total, int64_t counted) {
  return static_cast<float>(total / static_cast<double>(counted));
}

}  // namespace lrc::kernels

// The scratch a kernel needs while it runs, once: plan-memory sizes it into the plan, the
// plan loader checks a plan gives at least that, the CPU kernels use exactly that.
#pragma once

#include <cstdint>
#include <optional>

#include "ops/Checked.h"
#include "ops/Window.h"

namespace lrc::ops {

// A 1x1, stride-1, unpadded convolution: the input band's rows are its column matrix, and it
// needs no im2col (nor workspace).
constexpr bool convIsDirect(const WindowAxis& h, const WindowAxis& w) {
  return h.kernel == 1 && w.kernel == 1 && h.stride == 1 && w.stride == 1 && h.padBegin == 0 && h.padEnd == 0 &&
         w.padBegin == 0 && w.padEnd == 0;
}

// The CPU convolution kernels bound their im2col scratch: they run a band's output rows in
// chunks whose column matrix fits in this many bytes (at least one output row each), so the
// scratch no longer grows with the band (a 3x3 conv over 64 channels of a 4096-wide map has 9
// MiB of columns per output row, 576 MiB for a 64-row strip). The chunk is whole rows, so
// every GEMM stays at least one row (OW columns) wide; 16 MiB is one such row at 4096 wide and
// is small next to the bands themselves (docs/benchmarks.md, "Bounded convolution scratch").
constexpr int64_t kConvScratchCapBytes = int64_t{16} << 20;

// Floats of the im2col matrix of one image, one group and one output row of width `outW` with C
// input channels: (C / group) * kH * kW * outW; none when direct.
// Checked: the factors come from plans and models, and their product is bounded by nothing.
constexpr Checked convRowFloats(const WindowAxis& h, const WindowAxis& w, int64_t group, int64_t C, int64_t outW) {
  if (convIsDirect(h, w) || group < 1) return 0;
  return Checked(C / group) * h.kernel * w.kernel * outW;
}

// Output rows per chunk when `outRows` rows run with a scratch of at most `capBytes`: as many
// as fit, at least 1, at most `outRows` (all of them when the convolution is direct or
// capBytes <= 0, which means no cap). The CPU kernels chunk by it.
constexpr int64_t convChunkRows(const WindowAxis& h, const WindowAxis& w, int64_t group, int64_t C, int64_t outW,
                                int64_t outRows, int64_t capBytes) {
  const std::optional<int64_t> row = convRowFloats(h, w, group, C, outW).value();
  if (outRows < 1 || capBytes <= 0 || !row || *row == 0) return outRows;
  const int64_t fit = capBytes / 4 / *row;
  return fit < 1 ? 1 : fit < outRows ? fit : outRows;
}

// Floats of scratch the CPU kernels need for `outRows` output rows under a cap of `capBytes`:
// one chunk's column matrix (convChunkRows rows). plan-memory sizes a convolution's scratch by
// it and the plan loader checks plans by it.
constexpr Checked convWorkspaceFloats(const WindowAxis& h, const WindowAxis& w, int64_t group, int64_t C,
                                      int64_t outW, int64_t outRows, int64_t capBytes) {
  return convRowFloats(h, w, group, C, outW) * convChunkRows(h, w, group, C, outW, outRows, capBytes);
}

// Floats of a convolution's weights (K output channels, C input channels, `group` groups) in
// oneDNN's blocked layouts, bounded above: each group's output and input channels rounded up
// to 16 (its OIhw16i16o-style blocks), times the kernel's area; a depthwise convolution's
// groups rounded up to 16 (Goihw16g). plan-memory's
// conv-scratch=dnnl adds this much to a convolution's scratch, so that the CPU backend's
// oneDNN convolutions (runtime/cpu/DnnlConv.h) find room for their blocked weights beside
// the im2col columns' worth of blocked map chunks.
constexpr Checked convBlockedWeightsFloats(const WindowAxis& h, const WindowAxis& w, int64_t group, int64_t K,
                                           int64_t C) {
  if (group < 1) return 0;
  const auto up16 = [](int64_t n) { return (n + 15) / 16 * 16; };
  if (group > 1 && K == group && C == group) return Checked(up16(group)) * h.kernel * w.kernel;
  return Checked(group) * up16(K / group) * up16(C / group) * h.kernel * w.kernel;
}

// conv-scratch=winograd (lrc-compile --conv-scratch winograd): the convolutions that run
// oneDNN's Winograd F(4x4, 3x3) kernels (jit_wino_4x3) on the CPU: 3x3, stride 1, dilation 1,
// pads at most 1, one group, input and output channels multiples of 16 (what oneDNN's blocks
// hold without padding; the RGB stem is left to the direct kernels).
constexpr bool convWinogradEligible(const WindowAxis& h, const WindowAxis& w, int64_t group, int64_t K, int64_t C) {
  const auto axisOk = [](const WindowAxis& a) {
    return a.kernel == 3 && a.stride == 1 && a.dilation == 1 && a.padBegin >= 0 && a.padBegin <= 1 && a.padEnd >= 0 &&
           a.padEnd <= 1;
  };
  return axisOk(h) && axisOk(w) && group == 1 && K > 0 && C > 0 && K % 16 == 0 && C % 16 == 0;
}

// One chunk of a Winograd convolution: `images` images by `rows` output rows of width `outW`,
// K output and C input channels (multiples of 16). Floats of what the CPU backend puts in the
// convolution's scratch for it, bounded above (oneDNN 2.6's jit_wino_4x3, one thread):
//   the input view reordered to nChw16c, at most (rows + 2) x (outW + 2) per channel,
//   the output view likewise, rows x outW,
//   oneDNN's scratchpad: transformed tiles V and M, 6x6 per 4x4 output tile and channel, at
//   most images * ceil((rows + 2) / 4) * ceil((outW + 2) / 4) tiles (the schedule that holds
//   the whole problem; the per-tile-block one holds less); the transformed weights U, 36 * K
//   * C (the weight gradient keeps two copies per thread plus one, 72 * K * C at one thread,
//   and K floats of bias reduction); each of its 3 (weight gradient: 4) buffers aligned to a
//   2 MiB page, counted as 2 MiB more each.
// More threads: the weight gradient's U grows with them and may not fit; the kernels then
// run oneDNN's direct convolution in the same scratch (never more memory than planned).
constexpr Checked convWinogradViewsFloats(int64_t K, int64_t C, int64_t outW, int64_t rows, int64_t images) {
  const Checked tiles = Checked(images) * ((rows + 2 + 3) / 4) * ((outW + 2 + 3) / 4);
  const Checked maps = Checked(images) * C * (rows + 2) * (outW + 2) + Checked(images) * K * rows * outW;
  return maps + tiles * 36 * (C + K);
}
constexpr Checked convWinogradChunkFloats(int64_t K, int64_t C, int64_t outW, int64_t rows, int64_t images,
                                          bool weightGradient) {
  const Checked weights = Checked(weightGradient ? 72 : 36) * K * C + (weightGradient ? K : 0);
  const int64_t pages = (weightGradient ? 4 : 3) * ((int64_t{2} << 20) / 4 + 16);
  const int64_t alignment = 4 * 16;  // the CPU backend starts each of its 4 pieces at 64 bytes
  return convWinogradViewsFloats(K, C, outW, rows, images) + weights + pages + alignment;
}

// The per-chunk part of a Winograd call's scratch that chunk sizes trade: at most
// kConvScratchCapBytes of views and transformed tiles. A chunk is as many whole images of the
// `outRows` rows as fit, else one image and as many rows as fit, a multiple of 4 (a tile's
// height), at least 4 (or `outRows`, when fewer). The CPU backend chunks by it.
struct WinogradChunk {
  int64_t images, rows;
};
constexpr WinogradChunk convWinogradChunk(int64_t K, int64_t C, int64_t outW, int64_t outRows, int64_t batch) {
  const auto perChunk = [&](int64_t rows, int64_t images) { return convWinogradViewsFloats(K, C, outW, rows, images); };
  const int64_t cap = kConvScratchCapBytes / 4;
  if (outRows < 1 || batch < 1) return {1, outRows < 1 ? 0 : outRows};
  const std::optional<int64_t> image = perChunk(outRows, 1).value();
  if (image && *image <= cap) {
    const int64_t fit = cap / *image;
    return {fit < batch ? fit : batch, outRows};
  }
  int64_t rows = 4;
  while (rows + 4 < outRows) {
    const std::optional<int64_t> next = perChunk(rows + 4, 1).value();
    if (!next || *next > cap) break;
    rows += 4;
  }
  return {1, rows < outRows ? rows : outRows};
}

// Floats of a Winograd convolution's scratch for a band of `outRows` output rows of `batch`
// images, beside its im2col scratch (which stays, so the kernels can fall back): the blocked
// 3x3 weights (as conv-scratch=dnnl), and one chunk (convWinogradChunk) with oneDNN's
// scratchpad (convWinogradChunkFloats). oneDNN's direct kernels fit in it too.
constexpr Checked convWinogradFloats(int64_t K, int64_t C, int64_t outW, int64_t outRows, int64_t batch,
                                     bool weightGradient) {
  const WinogradChunk c = convWinogradChunk(K, C, outW, outRows, batch);
  return Checked(9) * K * C + convWinogradChunkFloats(K, C, outW, c.rows, c.images, weightGradient);
}

// Training-mode BatchNorm: forward keeps the batch mean and inverse std (float) per channel;
// the gradient recomputes a sum and a sum of squares (double), then mean and inverse std.
constexpr Checked batchNormScratchBytes(bool grad, int64_t channels) { return Checked(grad ? 24 : 8) * channels; }

}  // namespace lrc::ops

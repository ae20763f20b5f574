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

// Training-mode BatchNorm: forward keeps the batch mean and inverse std (float) per channel;
// the gradient recomputes a sum and a sum of squares (double), then mean and inverse std.
constexpr Checked batchNormScratchBytes(bool grad, int64_t channels) { return Checked(grad ? 24 : 8) * channels; }

}  // namespace lrc::ops

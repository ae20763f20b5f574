// Parameters of a 2-D convolution, shared by the plan loader and both backends.
#pragma once

#include <cstdint>

#include "ops/Scratch.h"
#include "runtime/kernels/Window.h"

namespace lrc::kernels {

// Weights are [K][C / group][kernelH][kernelW], bias is [K]; input N x C x H x W, output
// N x K x OH x OW with OH = window_output_size(h, H), OW = window_output_size(w, W).
// `scratchCapBytes` bounds the CPU kernels' im2col scratch (ops::convChunkRows; <= 0: none):
// plans use ops::kConvScratchCapBytes, tests set less to make the chunks fall mid-band. The
// CUDA kernels chunk by images instead (runtime/cuda/Conv.cuh) and ignore it.
struct Conv2dParams {
  WindowAxis h, w;
  int64_t group = 1;
  int64_t scratchCapBytes = ops::kConvScratchCapBytes;
  // The plan's `winograd=1` (lrc-compile --conv-scratch winograd): the CPU backend runs this
  // convolution on oneDNN's Winograd kernels where its scratch holds them (ops/Scratch.h).
  bool winograd = false;
};

// A 1x1, stride-1, unpadded convolution, which reads and writes the bands directly
// (ops/Scratch.h, the rule plan-memory sizes scratch by).
inline bool conv2d_is_direct(const Conv2dParams& p) { return ops::convIsDirect(p.h, p.w); }

// Floats of workspace the CPU's conv2d_rows_* functions need (and the least conv scratch a
// plan gives) for `outRows` output rows of width `outW` with C input channels: one chunk of
// conv2d_chunk_rows rows. The plan loader has checked that it fits in int64
// (ops::convWorkspaceFloats is checked arithmetic).
inline int64_t conv2d_workspace_floats(const Conv2dParams& p, int64_t C, int64_t outW, int64_t outRows) {
  return ops::convWorkspaceFloats(p.h, p.w, p.group, C, outW, outRows, p.scratchCapBytes).value().value();
}

// Output rows the CPU kernels run per chunk (their column matrix fits in p.scratchCapBytes).
inline int64_t conv2d_chunk_rows(const Conv2dParams& p, int64_t C, int64_t outW, int64_t outRows) {
  return ops::convChunkRows(p.h, p.w, p.group, C, outW, outRows, p.scratchCapBytes);
}

}  // namespace lrc::kernels

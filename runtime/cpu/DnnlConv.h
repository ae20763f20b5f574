// oneDNN (libdnnl) forms of the convolution's three products on row bands
// (runtime/cpu/Conv.h holds the im2col + BLAS reference they are tested against, and picks
// among them: LRC_CPU_CONV).
//
// A band call is one oneDNN convolution over strided views of the bands: the input rows the
// output rows [a, b) read, clipped to the map, as an N x C x rows x W view with the band's
// image and channel strides, and the clipped rows as asymmetric top and bottom padding (the
// columns never read are cropped likewise). Two forms: on the views as they are (the plain
// functions: oneDNN's GEMM-based convolution, dense views only), or reordered into oneDNN's
// blocked layouts in the workspace (the blocked_ functions, below). Primitives are created
// once per shape (caches keyed by every size, stride and pad of the call) and run with a user
// scratchpad taken from the caller's workspace: a call whose buffers do not fit in
// `workspaceFloats`, or for which oneDNN offers only its reference implementation, is not run
// and returns false, and the caller runs the im2col kernel. No call allocates a map.
#pragma once

#include <cstdint>

#include "runtime/cpu/RowBand.h"
#include "runtime/kernels/Conv.h"

namespace lrc::cpu::dnnl_conv {

// Whether lrc was built with oneDNN (LRC_HAVE_DNNL); without it every function returns false.
bool available();

// out rows [a, b) = conv(in) + bias (bias may be null), overwriting them.
bool forward(RowBand out, ConstRowBand in, const float* weight, const float* bias, const kernels::Conv2dParams& p,
             int64_t a, int64_t b, float* workspace, int64_t workspaceFloats);

// dIn's rows that output rows [a, b) read = W^T * dOut rows [a, b) (col2im), OVERWRITING them:
// the caller has zeroed dIn (the backend's input-gradient steps do).
bool backward_data_zeroed(RowBand dIn, ConstRowBand dOut, const float* weight, const kernels::Conv2dParams& p,
                          int64_t a, int64_t b, float* workspace, int64_t workspaceFloats);

// dWeight (+)= dOut rows [a, b) correlated with the input rows they read: with `accumulate`
// it adds (through a weight-sized buffer at the start of the workspace), without it it
// overwrites dWeight.
bool backward_weights(float* dWeight, ConstRowBand dOut, ConstRowBand in, const kernels::Conv2dParams& p, int64_t a,
                      int64_t b, bool accumulate, float* workspace, int64_t workspaceFloats);

// The same three products on oneDNN's blocked layouts (its direct JIT convolutions): each
// chunk of images and output rows (as many as fit) is reordered from the views into blocked
// buffers in the workspace, convolved, and reordered back (adding where chunks overlap). The
// workspace holds the blocked weights, one chunk of each map and the scratchpad; a call that
// does not fit even one output row of one image is declined. The weight gradient adds into
// dWeight with `accumulate`, else overwrites it.
bool blocked_forward(RowBand out, ConstRowBand in, const float* weight, const float* bias,
                     const kernels::Conv2dParams& p, int64_t a, int64_t b, float* workspace, int64_t workspaceFloats);
bool blocked_backward_data_zeroed(RowBand dIn, ConstRowBand dOut, const float* weight, const kernels::Conv2dParams& p,
                                  int64_t a, int64_t b, float* workspace, int64_t workspaceFloats);
bool blocked_backward_weights(float* dWeight, ConstRowBand dOut, ConstRowBand in, const kernels::Conv2dParams& p,
                              int64_t a, int64_t b, bool accumulate, float* workspace, int64_t workspaceFloats);

// Primitives created so far (tests: one per shape, none per call), and the chunks the blocked
// calls have run (tests: a short workspace splits a call).
int64_t cached_primitives();
int64_t blocked_chunks_run();
// Of those, the chunks that ran oneDNN's Winograd kernels (Conv2dParams::winograd; tests:
// Winograd did run).
int64_t winograd_chunks_run();

}  // namespace lrc::cpu::dnnl_conv

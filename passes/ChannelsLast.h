// Channels-last round trips as NCHW ops (ConvNeXt's block), a rewrite canonicalize applies:
//   y = transpose(x) {perm=[0,2,3,1]}  (x an N x C x H x W map)
//   ... ops that act on each pixel's values of the last axis ...
//   z = transpose(.) {perm=[0,3,1,2]}
// becomes the same computation on x's layout, without the transposes:
//  - layer_norm {axis=3} (the last axis)          -> layer_norm {axis=1, end=2} (row-local);
//  - a Linear, the importer's N-D MatMul: reshape (or flatten) to [N*H*W, C], matmul by W [C,D]
//    (a value computed before the round trip: an initializer), reshape to [N,H,W,D]
//                                                  -> conv2d 1x1 by reshape(transpose(W)) [D,C,1,1]
//    (reshape(V) when W is itself transpose(V) {perm=[1,0]}: torch's nn.Linear);
//    a following add of a [D] vector becomes the conv's bias;
//  - add/sub/mul/div of two such maps, or of one and a tensor broadcast over the last axis
//    ([C], [1,1,1,C], scalars) -> the same op, the tensor reshaped to [C,1,1] (over channels);
//  - element-wise unary ops (relu, sigmoid, hardsigmoid, hardswish, clip, erf, sqrt, pow, identity).
// The weights stay the module's globals: the ops that reshape them are ordinary ops, which
// autodiff differentiates back onto the original parameters (so training updates, and
// --save-onnx writes, the ONNX initializers), placed before the op that computes x so that
// a row pipeline's ops stay contiguous. It applies only when every reader of every value
// between the transposes is one of the ops above or a closing transpose, and no such value is
// a module output; otherwise the graph is left alone.
#pragma once

#include "ir/IR.h"

namespace lrc::passes {

// Rewrites every channels-last round trip of `m`; returns whether it rewrote one.
bool foldChannelsLastRoundTrips(ir::Module& m);

}  // namespace lrc::passes

// Row analysis (SPEC.md section 2 "Row dependency"): which ops can sit inside a row pipeline,
// and which rows of an operand a range of output rows needs. Depends on ir/ only; the
// formula is the runtime's window_input_rows (runtime/cpu/RowBand.h), so compiler and
// kernels agree on one band per range.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "ir/IR.h"

namespace lrc::passes {

// Half-open range [begin, end) of global row indices. Empty ranges are {0, 0} when returned
// by inputRows.
struct RowRange {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end > begin ? end - begin : 0; }
  bool empty() const { return end <= begin; }
  bool contains(int64_t row) const { return begin <= row && row < end; }
  bool operator==(const RowRange&) const = default;
  std::string str() const;  // "[begin, end)"
};

// The smallest range holding both (an empty one adds nothing); the rows both hold ({0, 0}
// when none); whether `outer` holds every row of `inner`.
RowRange hull(RowRange a, RowRange b);
RowRange intersect(RowRange a, RowRange b);
bool holds(RowRange outer, RowRange inner);

// Whether an op can sit inside a row pipeline (computes output rows from a band of input
// rows): the per-pixel loss pixel_xent on a 4-D map (it ends one: its output row r is the terms
// of logits row r; fuse-row-pipelines' option `loss`); conv2d, conv_transpose2d, relu, maxpool, avgpool, resize, pad that pads only H and W, batchnorm with
// training=0 (frozen), add/sub/mul/div of two same-shape 4-D maps or of a map and a
// per-channel operand (below), dropout, identity, all over 4-D
// maps; training-mode batchnorm with `strip_stats` (--bn strip); concat and slice along
// channels (axis 1) of 4-D maps; channel_shuffle. Not transpose (whole tensors). Not: global_avgpool, flatten, reshape, gemm, matmul, softmax, training-mode
// batchnorm, ops whose operands are not 4-D maps, and the training ops (made by autodiff;
// a row plan's backward is derived from its forward pipeline, not fused from them).
bool isRowLocal(const ir::Op& op);
// (add, sub, mul, div: each operand is a 4-D map of the result's shape or a per-channel tensor
// broadcast over the rows, ops::isRowBroadcast, and at least one is a map: the SE gate x * g.)

// Whether operand `operand` of a row-local op is a row-indexed map (read by rows in a
// pipeline): one of the table's band slots, and for the binary family not a per-channel
// operand broadcast over the rows (a whole tensor, like a weight).
bool isRowIndexed(const ir::Op& op, size_t operand);

// The rows of operand `operand` (a 4-D map) that output rows `out` of `op` need, clipped to
// [0, that operand's height). Sliding windows: [a*s - p_top, (b-1)*s - p_top + d*(k-1) + 1)
// (with dilation this hull may include rows no tap reads); a transposed convolution: the
// input rows i with a <= i*s - p_top + d*(k-1) and i*s - p_top <= b - 1, right for any a (its
// kernels drop the taps outside [a, b), so strips need not start on its output grid);
// resize: the rows its sampling formula touches for rows a and b - 1 (ops/Resize.h: resizeInputRows; linear reads two rows
// per output row where its weight is not 0); element-wise ops: the same rows;
// pad: shifted by the top pad (negative = crop). Empty `out`, or rows that read only padding,
// give {0, 0}. Throws ir::Error (at the op) when the op is not row-local, when `operand` is
// out of range or not row-indexed (weights, bias, BatchNorm vectors), or when `out` is not
// inside the op's result rows.
RowRange inputRows(const ir::Op& op, size_t operand, RowRange out);

// A reduction point (docs/row-plans.md "Recomputed reduction points in strips"): a whole-map
// reduction whose input map x is also read by rows after it: a training BatchNorm's statistics
// (batchnorm_stats) or a squeeze-and-excitation mean (global_avgpool, as torchvision's SE
// blocks export it, or reduce_mean over H, W with keepdims of a 4-D map; its gate multiplies x). batchnorm-policy{recompute=...} numbers them in program
// order and marks the chosen ones `recompute=1`.
bool isReductionPoint(const ir::Op& op);

// A reduction point marked `recompute=1`: row plans recompute its input map instead of keeping
// it (SPEC.md section 5). fuse-row-pipelines lets a pipeline run through it (the op itself, and
// its gate, join no pipeline), so its input map is computed strip by strip inside the
// pipeline; lower-row-pipelines computes the reduction from strips in forward and runs the
// pipeline's backward in two passes (docs/row-plans.md "Recomputed reduction points").
bool isRecomputedPoint(const ir::Op& op);

// The gate ops of the recomputed points of the forward part (the ops before the loss): forward
// ops whose operands other than globals are all results of one point or of its gate ops (an
// SE gate's 1x1 convolutions and activations on [N,C,1,1]), each mapped to its point. They
// are computed once, whole, between the point and the pipeline that reads their result by
// rows; that pipeline differentiates them (lower-row-pipelines, between its backward passes).
std::map<const ir::Op*, const ir::Op*> pointGates(const ir::Module& m);

// Where a training module's forward ends: the position of its loss, the ops after it being the
// backward; m.ops.size() when it has none. After lower-row-pipelines a loss inside a row
// pipeline is the sum of its strips' shares (pixel_xent per strip, then `add`): the op that
// computes the module's first output, after the first strip's loss.
size_t lossPosition(const ir::Module& m);

// The map whose rows an op's result has: the result itself, or for a per-pixel loss ending a
// pipeline (pixel_xent, a scalar) its logits: output row r of the loss is the loss terms of
// logits row r (partition-rows cuts strips on them; the rows report and the plan search read
// a pipeline's height from them).
const ir::Value* rowsValue(const ir::Op& op);

// fuse-row-pipelines' cut points: the forward ops (those before the first loss) that are
// sliding windows (conv2d, max or average pool) with a row stride above 1, in program order;
// cut point K is the K-th (`cut=downsample` cuts after every one, `cut=K:...` after those
// listed; docs/row-plans.md "Segment cuts").
bool isDownsamplingWindow(const ir::Op& op);
std::vector<const ir::Op*> cutPointOps(const ir::Module& m);

// The attributes the row-plan passes write on forward ops (fuse-row-pipelines,
// partition-rows, batchnorm-policy{mode=strip}): compiler bookkeeping, not kernel
// attributes. lower-row-pipelines drops them from the strip ops it makes, and plans never
// hold them.
bool isRowPlanAttr(std::string_view name);

}  // namespace lrc::passes

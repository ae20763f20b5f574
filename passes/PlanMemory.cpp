// Places every buffer of the step (inputs, parameters, state, op results, kernel scratch)
// at a fixed offset in one arena, so that the arena size is known before anything runs and
// is exactly the peak. The schedule is the module's op order.
//
// Inputs and globals live for the whole step and are laid out first, in declaration order;
// those that already have a place keep it (a second program over the same weights, like
// the evaluation step, declares the training step's globals with their places). The rest
// are packed greedily, largest first, each at the lowest aligned offset that no buffer live
// at the same time occupies (ir/Liveness.h defines "live"). The verifier re-checks the
// packing after the pass.
//
// A convolution's im2col scratch, by default (`conv-batch-bytes=0`, the CPU kernels' rule):
// one image's columns of as many output rows as fit in ops::kConvScratchCapBytes (16 MiB), at
// least one row; the CPU kernels run the band's rows in chunks of that many (ops/Scratch.h).
// Option `conv-batch-bytes=B` (B > 0): the scratch holds the whole band's columns of as many
// images as fit in B bytes, at least one and at most the batch: the CUDA backend runs as many images per launch as the scratch
// holds (lrc-compile --device cuda asks for 64 MiB), so the memory that buys speed is in the
// plan and in its predicted peak.
// Option `conv-scratch=dnnl` (lrc-compile --conv-scratch dnnl; default im2col): each
// convolution that has im2col scratch (not 1x1 stride-1 unpadded, not transposed) gets its
// weights' size in oneDNN's blocked layouts on top (ops::convBlockedWeightsFloats), so that
// the CPU backend's oneDNN path (LRC_CPU_CONV=dnnl) holds the blocked weights and chunks of
// the maps as large as the im2col columns; without it a layer whose blocked weights exceed
// its im2col scratch (VGG-16's 14x14 512-channel convolutions) runs im2col. The plan, not the
// build machine, decides: the same plan on either path, its peak predicted either way.
// Option `conv-scratch=winograd` (lrc-compile --conv-scratch winograd): each convolution
// (forward, input and weight gradient) oneDNN's Winograd F(4x4, 3x3) kernels take
// (ops::convWinogradEligible) is marked `winograd=1` and its im2col scratch gets one chunk of
// those kernels' buffers on top, blocked weights included (ops::convWinogradFloats): the CPU
// backend runs it on Winograd in chunks of that size, or on oneDNN's direct kernels where it
// does not fit. The other convolutions keep the im2col rule, not dnnl's: with dnnl's
// blocked weights ResNet-50's 1x1 stride-2 downsample convolutions run their weight gradient
// in many small chunks, each adding the whole 2048x1024 gradient (2.4 s a step at batch 16;
// docs/benchmarks.md "Winograd convolutions (issue 14)"). Without the option no op gets
// the attribute, so such plans are as before.
#include <algorithm>
#include <string>

#include "ir/Liveness.h"
#include "ops/Scratch.h"
#include "passes/Pass.h"

namespace lrc::passes {

namespace {

using ir::LiveBuffer;
using ir::Op;
using ir::OpKind;

// Sizes here are sums and products of a model's (checked) tensor sizes, which together may
// still pass int64: every one is computed checked, and an arena past it is an error.
int64_t counted(ops::Checked n, const std::string& what, ir::Location loc = {}) {
  if (const std::optional<int64_t> v = n.value()) return *v;
  throw ir::Error("plan-memory: " + what + " would be more bytes than int64 counts", loc);
}

// The aligned end of buffer `b` placed at `offset`.
int64_t alignedEnd(int64_t offset, const LiveBuffer& b) {
  const ops::Checked end = ops::Checked(offset) + b.bytes + (ir::kArenaAlignment - 1);
  if (!end.value()) {  // the message is made only here: this runs for every pair of buffers placed
    const Op* op = b.value ? b.value->def : b.scratchOf;
    counted(end, "the arena up to " + b.describe(), op ? op->loc : ir::Location{});
  }
  return *end.value() / ir::kArenaAlignment * ir::kArenaAlignment;
}

// Bytes of the im2col matrix of one image and one group: one chunk of output rows under
// `capBytes` (ops/Scratch.h, the rule the CPU kernels chunk by and the plan loader checks
// plans by), the whole band's when capBytes is 0.
int64_t convScratchBytes(const Op& op, int64_t inChannels, const std::vector<int64_t>& outShape,
                         int64_t kh, int64_t kw, int64_t capBytes) {
  const ir::IntList& stride = op.getInts("stride");
  const ir::IntList& pad = op.getInts("pad");
  const ops::WindowAxis h{kh, stride.at(0), pad.at(0), pad.at(2), 1}, w{kw, stride.at(1), pad.at(1), pad.at(3), 1};
  return counted(ops::convWorkspaceFloats(h, w, op.getInt("group"), inChannels, outShape[3], outShape[2], capBytes) * 4,
                 "the scratch of " + op.describe(), op.loc);
}

// The shape of dy a backward op propagates: its `rows` (row plans) or all rows dy holds.
std::vector<int64_t> propagatedShape(const Op& op) {
  std::vector<int64_t> s = op.operands[0]->type.shape;
  if (op.has("rows") && s.size() == 4) s[2] = op.getInts("rows").at(1) - op.getInts("rows").at(0);
  return s;
}

// One image's scratch times the images that fit in `batchBytes` (1 to the batch).
int64_t imagesScratch(const Op& op, int64_t perImage, int64_t batch, int64_t batchBytes) {
  if (perImage == 0) return 0;
  return counted(ops::Checked(perImage) * std::clamp<int64_t>(batchBytes / perImage, 1, std::max<int64_t>(batch, 1)),
                 "the scratch of " + op.describe(), op.loc);
}

// conv-scratch=dnnl's addition to a convolution's im2col scratch `im2col` (none when that is
// none): its weights in oneDNN's blocked layouts, K output and C input channels.
int64_t withBlockedWeights(const Op& op, int64_t im2col, ConvScratch rule, int64_t K, int64_t C, int64_t kh,
                           int64_t kw) {
  if (rule != ConvScratch::Dnnl || im2col == 0) return im2col;
  const ops::WindowAxis h{kh, 1, 0, 0, 1}, w{kw, 1, 0, 0, 1};
  return counted(ops::convBlockedWeightsFloats(h, w, op.getInt("group"), K, C) * 4 + im2col,
                 "the scratch of " + op.describe(), op.loc);
}

// conv-scratch=winograd: the scratch of `op` (a convolution or its gradient; its im2col
// scratch `im2col`) where it runs oneDNN's Winograd kernels: both, so the kernels may fall back
// (to oneDNN's direct kernels, whose blocked weights and chunks fit in Winograd's part, or to
// im2col). 0 where those kernels do not take it (ops::convWinogradEligible), or where
// Winograd's part would pass winograd-max-bytes (the convolution then keeps the im2col rule).
int64_t winogradScratch(const Op& op, const PlanMemoryOptions& options, int64_t im2col, int64_t K, int64_t C,
                        int64_t kh, int64_t kw, const std::vector<int64_t>& outShape, int64_t batch,
                        bool weightGradient) {
  if (options.convScratch != ConvScratch::Winograd) return 0;
  const ir::IntList& stride = op.getInts("stride");
  const ir::IntList& pad = op.getInts("pad");
  const ir::IntList& dilation = op.getInts("dilation");
  const ops::WindowAxis h{kh, stride.at(0), pad.at(0), pad.at(2), dilation.at(0)},
      w{kw, stride.at(1), pad.at(1), pad.at(3), dilation.at(1)};
  if (!ops::convWinogradEligible(h, w, op.getInt("group"), K, C)) return 0;
  const int64_t part = counted(ops::convWinogradFloats(K, C, outShape[3], outShape[2], batch, weightGradient) * 4,
                               "the scratch of " + op.describe(), op.loc);
  if (options.winogradMaxBytes > 0 && part > options.winogradMaxBytes) return 0;
  return counted(ops::Checked(part) + im2col, "the scratch of " + op.describe(), op.loc);
}

// `winograd` is set where the scratch is Winograd's (conv-scratch=winograd, winogradScratch).
int64_t scratchBytes(const Op& op, const PlanMemoryOptions& options, bool& winograd) {
  const int64_t convBatchBytes = options.convBatchBytes;
  const ConvScratch rule = options.convScratch;
  const int64_t batch = op.operands[0]->type.shape.empty() ? 1 : op.operands[0]->type.shape[0];
  const int64_t cap = convBatchBytes == 0 ? ops::kConvScratchCapBytes : 0;
  switch (op.kind) {
    case OpKind::Conv2d: {
      const auto& w = op.operands[1]->type.shape;
      const int64_t C = op.operands[0]->type.shape[1];
      const int64_t im2col =
          imagesScratch(op, convScratchBytes(op, C, op.result()->type.shape, w[2], w[3], cap), batch, convBatchBytes);
      if (const int64_t wino = winogradScratch(op, options, im2col, w[0], C, w[2], w[3], op.result()->type.shape,
                                               batch, false)) {
        winograd = true;
        return wino;
      }
      return withBlockedWeights(op, im2col, rule, w[0], C, w[2], w[3]);
    }
    case OpKind::Conv2dGradInput: {
      const auto& w = op.operands[1]->type.shape;
      const int64_t C = op.getInts("input_shape")[1];
      const int64_t im2col =
          imagesScratch(op, convScratchBytes(op, C, propagatedShape(op), w[2], w[3], cap), batch, convBatchBytes);
      if (const int64_t wino =
              winogradScratch(op, options, im2col, w[0], C, w[2], w[3], propagatedShape(op), batch, false)) {
        winograd = true;
        return wino;
      }
      return withBlockedWeights(op, im2col, rule, w[0], C, w[2], w[3]);
    }
    case OpKind::Conv2dGradWeight: {
      const ir::IntList& k = op.getInts("kernel");
      const int64_t C = op.operands[1]->type.shape[1];
      const int64_t K = op.operands[0]->type.shape[1];
      const int64_t im2col =
          imagesScratch(op, convScratchBytes(op, C, propagatedShape(op), k[0], k[1], cap), batch, convBatchBytes);
      if (const int64_t wino = winogradScratch(op, options, im2col, K, C, k[0], k[1], propagatedShape(op), batch, true)) {
        winograd = true;
        return wino;
      }
      return withBlockedWeights(op, im2col, rule, K, C, k[0], k[1]);
    }
    // A transposed convolution's column matrix covers the rows of its input-shaped map x (its
    // equivalent convolution's output) it multiplies: those x (or dx) holds; the channels are
    // dy's (the transposed output's).
    case OpKind::ConvTranspose2d:
    case OpKind::ConvTranspose2dGradInput:
    case OpKind::ConvTranspose2dGradWeight: {
      const auto& w = op.operands[1]->type.shape;
      const bool forward = op.kind == OpKind::ConvTranspose2d;
      const ir::Value* x = op.kind == OpKind::ConvTranspose2dGradInput ? op.result() : forward ? op.operands[0] : op.operands[1];
      const int64_t channels = forward ? op.result()->type.shape[1] : op.operands[0]->type.shape[1];
      const int64_t kh = forward || op.kind == OpKind::ConvTranspose2dGradInput ? w[2] : op.getInts("kernel")[0];
      const int64_t kw = forward || op.kind == OpKind::ConvTranspose2dGradInput ? w[3] : op.getInts("kernel")[1];
      return imagesScratch(op, convScratchBytes(op, channels, x->type.shape, kh, kw, cap), batch, convBatchBytes);
    }
    case OpKind::BatchNorm:
      return op.getInt("training") ? counted(ops::batchNormScratchBytes(false, op.operands[0]->type.shape[1]), "the scratch of " + op.describe(), op.loc) : 0;
    case OpKind::BatchNormGrad:
      return op.getInt("training") ? counted(ops::batchNormScratchBytes(true, op.operands[1]->type.shape[1]), "the scratch of " + op.describe(), op.loc) : 0;
    default: return 0;
  }
}

// The lowest aligned offset >= base where `b` fits beside the already placed buffers that
// are live at the same time.
int64_t lowestFit(const LiveBuffer& b, const std::vector<LiveBuffer>& placed, int64_t base) {
  std::vector<const LiveBuffer*> overlapping;
  for (const LiveBuffer& p : placed)
    if (p.first <= b.last && b.first <= p.last) overlapping.push_back(&p);
  std::sort(overlapping.begin(), overlapping.end(),
            [](const LiveBuffer* x, const LiveBuffer* y) { return x->offset < y->offset; });
  int64_t candidate = base;
  for (const LiveBuffer* p : overlapping) {
    if (alignedEnd(candidate, b) <= p->offset) break;  // p's offset is aligned
    candidate = std::max(candidate, alignedEnd(p->offset, *p));
  }
  alignedEnd(candidate, b);  // b's own end counts too
  return candidate;
}

class PlanMemory : public Pass {
 public:
  std::string_view name() const override { return "plan-memory"; }

  explicit PlanMemory(const PlanMemoryOptions& options)
      : options_(options) {}

  bool transform(ir::Module& m) override {
    // conv-scratch=winograd: the convolutions whose scratch holds Winograd's buffers say so
    // (`winograd=1`, which the CPU backend reads); no other rule writes the attribute.
    for (auto& op : m.ops) {
      bool winograd = false;
      op->scratchBytes = scratchBytes(*op, options_, winograd);
      if (winograd) op->attrs["winograd"] = int64_t{1};
    }
    std::vector<LiveBuffer> buffers = ir::liveBuffers(m);

    auto permanent = [](const LiveBuffer& b) {
      return b.value && (b.value->isGlobal() || b.value->kind == ir::ValueKind::Input);
    };
    int64_t base = 0;
    for (const LiveBuffer& b : buffers)
      if (permanent(b) && b.offset >= 0) base = std::max(base, alignedEnd(b.offset, b));
    std::vector<LiveBuffer*> temporaries;
    for (LiveBuffer& b : buffers) {
      if (permanent(b) && b.offset < 0) {
        b.offset = base;
        base = alignedEnd(base, b);
      } else if (!permanent(b)) {
        temporaries.push_back(&b);
      }
    }
    std::stable_sort(temporaries.begin(), temporaries.end(), [](const LiveBuffer* x, const LiveBuffer* y) {
      return x->bytes != y->bytes ? x->bytes > y->bytes : x->first < y->first;
    });
    std::vector<LiveBuffer> placed;
    for (LiveBuffer* b : temporaries) {
      b->offset = lowestFit(*b, placed, base);
      placed.push_back(*b);
    }

    bool changed = false;
    for (const LiveBuffer& b : buffers) {
      int64_t& slot = b.value ? b.value->offset : b.scratchOf->scratchOffset;
      changed |= slot != b.offset;
      slot = b.offset;
    }
    for (auto& op : m.ops)
      if (op->scratchBytes == 0) op->scratchOffset = -1;
    return changed;
  }

 private:
  PlanMemoryOptions options_;
};

}  // namespace

std::unique_ptr<Pass> createPlanMemoryPass(const PlanMemoryOptions& options) {
  return std::make_unique<PlanMemory>(options);
}

}  // namespace lrc::passes

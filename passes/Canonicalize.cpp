// Brings the graph into the one form later passes expect:
//  - Identity and inference-mode Dropout are forwarded (their uses read the operand);
//  - a Reshape that merely flattens (out = [prod(in[:k]), prod(in[k:])]) becomes
//    Flatten {axis=k}, so "Flatten then Gemm" and "Reshape then Gemm" look the same;
//  - a Flatten whose input already has its output shape is forwarded;
//  - a channel shuffle, Reshape [N,C,H,W] -> [N,g,C/g,H,W], Transpose perm=[0,2,1,3,4],
//    Reshape back to [N,C,H,W] (ShuffleNet), becomes channel_shuffle {groups=g}: a permutation
//    of channels, row-local, where the transpose of 5-D tensors would end a row pipeline;
//  - a channels-last round trip, transpose [0,2,3,1], per-pixel ops over the last axis,
//    transpose [0,3,1,2] (ConvNeXt's block), becomes the same ops on the NCHW map
//    (passes/ChannelsLast.h: layer_norm over the channels, 1x1 convolutions);
//  - ops whose results nobody uses, and globals nobody reads, are removed.
#include <numeric>

#include "passes/ChannelsLast.h"
#include "passes/Pass.h"

namespace lrc::passes {

namespace {

using ir::Op;
using ir::OpKind;

bool isForwarding(const Op& op) {
  switch (op.kind) {
    case OpKind::Identity: return true;
    case OpKind::Dropout: return op.getInt("training") == 0;
    case OpKind::Flatten: return op.operands[0]->type == op.result()->type;
    default: return false;
  }
}

// The axis k at which flattening the input gives the reshape's output, if any.
std::optional<int64_t> flattenAxis(const Op& reshape) {
  const auto& in = reshape.operands[0]->type.shape;
  const auto& out = reshape.result()->type.shape;
  if (out.size() != 2) return std::nullopt;
  int64_t outer = 1;
  for (size_t k = 0; k <= in.size(); ++k) {
    if (outer == out[0]) {
      int64_t inner = std::accumulate(in.begin() + static_cast<std::ptrdiff_t>(k), in.end(),
                                      int64_t{1}, std::multiplies<>());
      if (inner == out[1]) return static_cast<int64_t>(k);
    }
    if (k < in.size()) outer *= in[k];
  }
  return std::nullopt;
}

// The groups of a channel shuffle ending at `reshape` (see the header), if it is one.
std::optional<int64_t> shuffleGroups(const Op& reshape) {
  const Op* transpose = reshape.operands[0]->def;
  if (!transpose || transpose->kind != OpKind::Transpose || transpose->getInts("perm") != ir::IntList{0, 2, 1, 3, 4})
    return std::nullopt;
  const Op* split = transpose->operands[0]->def;
  if (!split || split->kind != OpKind::Reshape) return std::nullopt;
  const auto& x = split->operands[0]->type.shape;
  const auto& grouped = split->result()->type.shape;
  if (x.size() != 4 || grouped.size() != 5 || reshape.result()->type.shape != x) return std::nullopt;
  const int64_t g = grouped[1];
  if (grouped != std::vector<int64_t>{x[0], g, x[1] / g, x[2], x[3]} || g * grouped[2] != x[1]) return std::nullopt;
  return g;
}

class Canonicalize : public Pass {
 public:
  std::string_view name() const override { return "canonicalize"; }
  bool transform(ir::Module& m) override {
    bool changed = false;
    for (auto& op : m.ops) {
      if (op->kind == OpKind::Reshape) {
        if (auto groups = shuffleGroups(*op)) {
          op->operands = {op->operands[0]->def->operands[0]->def->operands[0]};
          op->kind = OpKind::ChannelShuffle;
          op->attrs = {{"groups", *groups}};
          changed = true;
        } else if (auto axis = flattenAxis(*op)) {
          op->kind = OpKind::Flatten;
          op->attrs = {{"axis", *axis}};
          changed = true;
        }
      }
      if (isForwarding(*op)) {
        m.replaceAllUses(op->result(), op->operands[0]);
        changed = true;
      }
    }
    changed |= m.eraseDeadOps() > 0;
    changed |= foldChannelsLastRoundTrips(m);
    return changed;
  }
};

}  // namespace

std::unique_ptr<Pass> createCanonicalizePass() { return std::make_unique<Canonicalize>(); }

}  // namespace lrc::passes

// remat{mode=elementwise|blocks} (SPEC.md section 5, issue 12): forward maps that backward
// reads are recomputed in backward instead of kept. Mode `elementwise` (the default): maps that
// element-wise forward ops compute from maps kept anyway.
// On a ResNet they are the block outputs y = relu(bn_apply(c3) + skip): the pre-BatchNorm maps
// (c3, and the downsample branch's) stay for the BatchNorm gradients, the skip is the previous
// block's y, so y costs no convolution to recompute, only the element-wise chain back to the
// stage's first kept map.
//
// Runs on a training module (after autodiff and lower-row-pipelines, before plan-memory).
// The forward part is the ops before `softmax_xent`; backward, the ops after it.
//  - recomputable: a global; a forward value backward reads and that is not rematerialized
//    (kept anyway); or the result of an element-wise forward op (relu, add without
//    broadcasting, batchnorm_apply, frozen batchnorm, identity, dropout; concat and slice along
//    channels, which copy elements: an Inception block's output) whose operands are all
//    recomputable (the table's row rule Same, no side effect, no broadcasting of a map: dropout
//    included, its mask depends on the step and the element only);
//  - rematerialized: every rank-4 map backward reads that an element-wise op computes from
//    recomputable operands. Right before its first backward reader, a copy of the chain that
//    computes it is emitted (`<name>.remat`, each element-wise op again on whole maps, chain
//    values that are rematerialized themselves recomputed too, never read from forward), and
//    every backward reader reads the copy. The forward value then dies at its last forward
//    reader. Each map's chain is emitted afresh for it, so the extra memory is one chain's
//    maps at a time; the extra work (element-wise only) is counted by the cost model.
//
// Mode `blocks` (checkpointing at residual blocks, with BatchNorm statistics saved, never
// recomputed): kept are the forward values that feed more than one forward op other than a
// batchnorm_stats (a block's input: its first conv and its skip), and what cannot be
// recomputed (row pipelines' assembled outputs, whose strips are gone); every other map
// backward reads is recomputed from them by any side-effect-free forward op (convolutions
// included; batchnorm_stats is never recomputed, its saved statistics are read). Values are
// recomputed once, before the first backward reader of any of them, and shared by the later
// readers: a block's maps live from the start of its backward to their last reader. Extra
// work: about one forward per step.
// Option `every=K` (blocks; default 1): only every K-th of those block inputs is kept, in
// forward order, the first included (PyTorch's checkpoint_sequential with segments of K
// blocks, nested). A block input between two kept ones is recomputed once, right before the
// first backward reader of its block's maps, from the kept input before it: the maps of the
// blocks in between are computed afresh for it and die at once, and computed again when
// backward reaches their own block. So at most K-1 recomputed block inputs are alive beside
// one block's maps, for about one forward more per step.
//
// Same values, same arithmetic: a rematerialized plan's results equal the plan without it.
#include <algorithm>

#include "passes/Pass.h"
#include "passes/RowAnalysis.h"

namespace lrc::passes {

namespace {

using ir::Op;
using ir::OpKind;
using ir::Value;
using ir::ValueMap;
using ir::ValueSet;

// A forward op with the table's row rule Same (element-wise on rows) and no side effect (a
// training-mode BatchNorm updates its running statistics), without broadcasting.
bool elementwise(const Op& op) {
  const ops::OpInfo& info = ops::info(op.kind);
  if (info.role != ops::Role::Forward || info.rowRule != ops::RowRule::Same || op.hasSideEffects()) return false;
  if (op.kind == OpKind::BatchNorm && op.getInt("training") != 0) return false;  // --bn strip
  // Concat and Slice along channels copy each element: every map operand has the result's
  // N, H and W (an Inception block's output, the concat of its branches' ReLUs).
  const bool channels = (op.kind == OpKind::Concat || op.kind == OpKind::Slice) && op.has("axis") && op.getInt("axis") == 1;
  const std::vector<int64_t>& y = op.results.front()->type.shape;
  for (const Value* u : op.operands) {
    if (u->type.shape.size() != 4) continue;
    if (channels && y.size() == 4 && u->type.shape[0] == y[0] && u->type.shape[2] == y[2] && u->type.shape[3] == y[3]) continue;
    if (u->type.shape != y) return false;
  }
  return true;
}

// Any forward op without side effects (batchnorm_stats updates the running statistics).
bool pure(const Op& op) {
  const ops::OpInfo& info = ops::info(op.kind);
  return info.role == ops::Role::Forward && !op.hasSideEffects() && op.kind != OpKind::BatchNormStats &&
         !(op.kind == OpKind::BatchNorm && op.getInt("training") != 0);
}

class Remat : public Pass {
 public:
  std::string_view name() const override { return "remat"; }

  explicit Remat(const RematOptions& options)
      : blocks_(options.mode == RematMode::Blocks), none_(options.mode == RematMode::None), every_(options.every) {}

  bool transform(ir::Module& m) override {
    if (every_ > 1 && !blocks_) throw ir::Error("remat: option 'every' thins the block inputs of mode=blocks, not another mode");
    const size_t loss = lossPosition(m);
    if (loss == m.ops.size() || none_) return false;  // not a training module, or nothing to do
    ValueSet forward;
    for (size_t i = 0; i < loss; ++i) forward.insert(m.ops[i]->results.begin(), m.ops[i]->results.end());
    for (size_t i = loss + 1; i < m.ops.size(); ++i)
      for (const Value* v : m.ops[i]->operands)
        if (forward.count(v)) readByBackward_.insert(v);

    // blocks: the branch points (read by several forward ops, batchnorm_stats not counted).
    if (blocks_) {
      ValueMap<size_t> readers;
      for (size_t i = 0; i < loss; ++i) {
        if (m.ops[i]->kind == OpKind::BatchNormStats) continue;
        ValueSet seen;
        for (const Value* u : m.ops[i]->operands)
          if (forward.count(u) && seen.insert(u).second) ++readers[u];
      }
      // Every K-th in forward order stays (the rest are recomputed, `inner_`).
      size_t index = 0;
      for (size_t i = 0; i < loss; ++i)
        for (Value* v : m.ops[i]->results)
          if (auto it = readers.find(v); it != readers.end() && it->second > 1)
            (index++ % static_cast<size_t>(every_) == 0 ? branch_ : inner_).insert(v);
    }
    // Which forward values are recomputable and which are rematerialized, in program order.
    for (size_t i = 0; i < loss; ++i) {
      const Op& op = *m.ops[i];
      if (blocks_ && branch_.count(op.results.front())) continue;  // kept
      const bool chain = (blocks_ ? pure(op) : elementwise(op)) && op.results.size() == 1 &&
                         std::all_of(op.operands.begin(), op.operands.end(), [&](const Value* u) { return recomputable(u); });
      const Value* v = op.results.front();
      if (chain) computable_.insert(v);
      if (chain && readByBackward_.count(v) && v->type.shape.size() == 4) remat_.insert(v);
    }
    if (remat_.empty()) return false;

    // Each rematerialized map's chain, before its first backward reader.
    for (size_t i = loss + 1; i < m.ops.size(); ++i) {
      Op* reader = m.ops[i].get();
      for (size_t k = 0; k < reader->operands.size(); ++k) {
        Value* v = reader->operands[k];
        if (!remat_.count(v)) continue;
        auto done = copies_.find(v);
        if (done == copies_.end()) {
          size_t pos = i;
          ValueMap<Value*> fresh;
          // elementwise: a fresh chain per map (its intermediates die at once); blocks: one
          // copy per value, shared (a block's maps are recomputed once), so the chain records
          // into copies_ itself.
          Value* copy = recompute(m, v, pos, blocks_ ? copies_ : fresh);
          done = copies_.try_emplace(v, copy).first;
          i = pos;  // the reader moved down by the ops inserted before it
        }
        reader->operands[k] = done->second;
      }
    }
    return true;
  }

 private:
  bool blocks_, none_;
  int64_t every_;
  ValueSet branch_;  // blocks: the block inputs kept
  ValueSet inner_;   // blocks with every > 1: the block inputs between them, recomputed
  ValueSet computable_, remat_;
  ValueMap<Value*> copies_;  // rematerialized map -> its backward copy
  ValueSet readByBackward_;  // forward values a backward op reads

  // Kept anyway (a global, or read by backward and not rematerialized), or recomputable.
  bool recomputable(const Value* u) const {
    if (u->isGlobal() || u->def == nullptr) return true;
    if (remat_.count(u) || computable_.count(u)) return true;
    return keptAnyway(u);
  }
  bool keptAnyway(const Value* u) const {
    // A forward value no rule recomputes and that backward reads stays whole anyway; the
    // others (forward-only intermediates that are not chains) are not available.
    return readByBackward_.count(u) != 0;
  }

  // Whether a chain reads `v` as it is (a global, a kept value, or not computable) instead
  // of recomputing it.
  bool readAsIs(const Value* v) const {
    if (v->isGlobal() || v->def == nullptr) return true;
    if (remat_.count(v)) return false;
    return !computable_.count(v) || keptAnyway(v);
  }

  // How many ops recompute(v) emits at most (0: kept).
  size_t depth(const Value* v) {
    if (readAsIs(v)) return 0;
    if (auto it = depths_.find(v); it != depths_.end()) return it->second;
    size_t d = 1;
    for (const Value* u : v->def->operands) d += depth(u);
    return depths_[v] = d;
  }
  ValueMap<size_t> depths_;

  // `v` recomputed at ops[pos] (pos advances past what is inserted); values of this chain in `chain`.
  // A block input not kept is recomputed once into copies_ (shared by its later readers), the
  // maps of the blocks before it afresh (`fresh`, dropped after it).
  Value* recompute(ir::Module& m, Value* v, size_t& pos, ValueMap<Value*>& chain) {
    if (readAsIs(v)) return v;
    const bool input = inner_.count(v) != 0;
    ValueMap<Value*>& into = input ? copies_ : chain;
    if (auto it = into.find(v); it != into.end()) return it->second;
    ValueMap<Value*> fresh;
    ValueMap<Value*>& operandChain = input ? fresh : chain;
    const Op& op = *v->def;
    // The deepest chain first, so that a shallow operand (a block's batchnorm_apply) is
    // computed right before its reader instead of waiting for the rest of the chain.
    std::vector<size_t> order(op.operands.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return depth(op.operands[a]) > depth(op.operands[b]); });
    std::vector<Value*> operands(op.operands.size());
    for (size_t i : order) operands[i] = recompute(m, op.operands[i], pos, operandChain);
    Op* copy = m.insertOp(pos++, op.kind, std::move(operands), op.attrs, {{m.uniqueName(v->name + ".remat"), v->type}});
    copy->origin = op.origin;
    copy->loc = op.loc;
    into.emplace(v, copy->result());
    return copy->result();
  }
};

}  // namespace

std::unique_ptr<Pass> createRematPass(const RematOptions& options) { return std::make_unique<Remat>(options); }

}  // namespace lrc::passes

// Fuses parameter gradients into the momentum-SGD update (issue 14 item 3): no parameter
// gradient buffer is made, each weight-gradient kernel adds its contribution straight into the
// momentum buffer.
//
//   %dw.1 = conv2d_grad_weight(%dy.1, %x.1) {...}        sgd_momentum_scale(@w.momentum)
//   %dw.0 = conv2d_grad_weight(%dy.0, %x.0) {...}   =>   conv2d_grad_weight(%dy.1, %x.1, @w.momentum) {accumulate=1, ...}
//   %dw0 = add(%dw.1, %dw.0)                             conv2d_grad_weight(%dy.0, %x.0, @w.momentum) {accumulate=1, ...}
//   sgd_update(@w, %dw0, @w.momentum)                    sgd_apply(@w, @w.momentum)
//
// torch.optim.SGD (dampening 0) computes buf = momentum * buf + (grad + wd * param), then
// param -= lr * buf. Here the buffer is scaled before the parameter's first contribution, the
// contributions add into it where they are computed, and sgd_apply adds wd * param and
// updates the parameter where sgd_update was (runtime/kernels/Optimizer.h: SgdStep). The same
// sums in another order (float rounding only). Nesterov needs the gradient apart from the
// buffer: lrc-compile does not run this pass for it, and the runtime refuses --nesterov on a
// fused plan; nor for data-parallel plans (the gradients are averaged before the update).
//
// A parameter is fused when its gradient is one contribution, or a tree of `add`s of
// contributions, each read only there, each made by a kernel with an accumulating form
// (ops::canAccumulate: conv2d_grad_weight, conv_transpose2d_grad_weight, channel_sum, and gemm
// without C). The others (BatchNorm's scale and bias, a gemm bias's sum_to, ...) keep their
// sgd_update. Runs on the lowered training program, before plan-memory.
#include <algorithm>

#include "ops/Optimizer.h"
#include "passes/Pass.h"

namespace lrc::passes {

namespace {

using ir::Op;
using ir::OpKind;
using ir::Value;

size_t indexOf(const ir::Module& m, const Op* op) {
  auto it = std::find_if(m.ops.begin(), m.ops.end(), [&](const auto& p) { return p.get() == op; });
  return static_cast<size_t>(it - m.ops.begin());
}

class FuseSgdGrads : public Pass {
 public:
  std::string_view name() const override { return "fuse-sgd-grads"; }

  bool transform(ir::Module& m) override {
    for (const auto& op : m.ops)
      if (ops::isCollective(op->kind))
        throw ir::Error("fuse-sgd-grads: a data-parallel program averages its gradients before the update (" +
                            op->describe() + "); its gradients cannot be fused into the optimizer state",
                        op->loc);
    std::vector<Op*> updates;
    for (const auto& op : m.ops)
      if (ops::isOptimizerUpdate(op->kind) && ops::info(*ops::optimizerOfUpdate(op->kind)).fusedApply)
        updates.push_back(op.get());
    // Who reads each value, counted once for the whole pass (a gradient's sum tree is read
    // only by itself and its update, so fusing one tree changes no other tree's counts).
    reads_.clear();
    replaced_.clear();
    for (const auto& op : m.ops)
      for (const Value* u : op->operands) {
        Reads& r = reads_[u];
        ++r.count;
        r.reader = op.get();
      }
    bool changed = false;
    for (Op* update : updates) changed |= fuse(m, update);
    m.eraseOps(replaced_);  // the sums and the contributions the accumulating ops replace
    return changed;
  }

 private:
  struct Reads {
    size_t count = 0;  // operand slots that read the value, over every op
    const Op* reader = nullptr;
  };
  ir::ValueMap<Reads> reads_;
  std::vector<Op*> replaced_;

  // The contributions summed into `v` (read only by `reader`) and the adds that sum them;
  // false when one is not fusable.
  bool collect(const ir::Module& m, Value* v, const Op* reader, std::vector<Op*>& contributions,
               std::vector<Op*>& adds) const {
    Op* def = v->def;
    if (!def || std::find(m.outputs.begin(), m.outputs.end(), v) != m.outputs.end()) return false;
    const auto read = reads_.find(v);
    if (read == reads_.end() || read->second.count != 1 || read->second.reader != reader) return false;
    if (def->kind == OpKind::Add) {
      for (Value* part : def->operands)
        if (part->type != v->type) return false;  // a broadcast sum
      adds.push_back(def);
      return collect(m, def->operands[0], def, contributions, adds) &&
             collect(m, def->operands[1], def, contributions, adds);
    }
    const bool gemmWithC = def->kind == OpKind::Gemm && def->operands.size() != 2;
    if (!ops::canAccumulate(def->kind) || def->accumulates() || def->results.size() != 1 || gemmWithC ||
        def->has("band"))
      return false;
    contributions.push_back(def);
    return true;
  }

  bool fuse(ir::Module& m, Op* update) {
    const ops::OptimizerInfo& optimizer = ops::info(*ops::optimizerOfUpdate(update->kind));
    Value* param = update->operands[0];
    Value* grad = update->operands[1];
    Value* state = update->operands[2];
    std::vector<Op*> contributions, adds;
    if (!collect(m, grad, update, contributions, adds)) return false;

    // Program order, so the accumulating kernels replace them one for one.
    auto byIndex = [&](const Op* a, const Op* b) { return indexOf(m, a) < indexOf(m, b); };
    std::sort(contributions.begin(), contributions.end(), byIndex);
    std::sort(adds.begin(), adds.end(), byIndex);

    const size_t at = indexOf(m, update);
    const ir::Location loc = update->loc;
    const std::string origin = update->origin;
    m.eraseOp(update);
    Op* apply = m.insertOp(at, *optimizer.fusedApply, {param, state}, {}, {});
    apply->loc = loc;
    apply->origin = origin;
    replaced_.insert(replaced_.end(), adds.begin(), adds.end());

    Op* scale = m.insertOp(indexOf(m, contributions.front()), *optimizer.fusedScale, {state}, {}, {});
    scale->loc = loc;
    scale->origin = origin;
    for (Op* c : contributions) {
      std::vector<Value*> operands = c->operands;
      operands.push_back(state);
      ir::Attrs attrs = c->attrs;
      attrs["accumulate"] = int64_t{1};
      Op* acc = m.insertOp(indexOf(m, c), c->kind, std::move(operands), std::move(attrs), {});
      acc->loc = c->loc;
      acc->origin = c->origin;
      replaced_.push_back(c);
    }
    return true;
  }
};

}  // namespace

std::unique_ptr<Pass> createFuseSgdGradsPass() { return std::make_unique<FuseSgdGrads>(); }

}  // namespace lrc::passes

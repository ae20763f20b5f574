// Builds the backward graph and the optimizer step of a module whose outputs[0] is a
// softmax_xent loss (see append-loss). Gradient ops are appended after the forward ops,
// visiting the forward ops in reverse program order:
//  - only values that require a gradient get one: params, and results of ops with an
//    operand that requires one. Graph inputs (the image), labels, state and consts get
//    none, so e.g. the first convolution has no conv2d_grad_input;
//  - a value used by several ops has its contributions summed with `add` as they arrive;
//  - every param that got a gradient gets the optimizer's zero-initialized state globals
//    (ops/Optimizer.h; option `optimizer`, default sgd: `<param>.momentum`; adamw:
//    `<param>.exp_avg`, `<param>.exp_avg_sq`, `<param>.step`) and its update op
//    (`sgd_update`, `adamw_update`) placed right after the op that completes its gradient,
//    so the gradient can die early. A param no gradient reaches (unused, or only behind a
//    gemm with beta 0) gets no update: it is left as it is, exactly as torch.optim skips a
//    parameter whose .grad is None.
//  - a partitioned row pipeline gets one pipeline_grad (lowered strip by strip later); the
//    statistics of a recomputed reduction point inside it, and the point's gate ops (an SE
//    gate, RowAnalysis's pointGates), are differentiated there, not here: the gate's
//    parameters are external operands of pipeline_grad. When the pipeline ends with the loss
//    (pixel_xent, fuse-row-pipelines' option `loss`), its pipeline_grad's dy is the loss
//    itself, which lower-row-pipelines reads as the seed.
// The gradient ops of each op come from passes/GradEmitter.h; gradient values are named
// `d<forward name>`, made unique.
#include <algorithm>
#include <map>
#include <set>

#include "passes/GradEmitter.h"
#include "passes/Pass.h"
#include "passes/RowAnalysis.h"

namespace lrc::passes {

namespace {

using ir::Attrs;
using ir::DType;
using ir::Error;
using ir::IntList;
using ir::Op;
using ir::OpKind;
using ir::TensorType;
using ir::Value;
using ir::ValueMap;
using ir::ValueSet;
using ir::ValueKind;

class BackwardBuilder final : GradBuilder {
 public:
  BackwardBuilder(ir::Module& m, ops::Optimizer optimizer) : m_(m), optimizer_(ops::info(optimizer)) {}

  void build(Op& lossOp) {
    std::vector<Op*> forward;
    for (auto& op : m_.ops) forward.push_back(op.get());
    markRequiresGrad(forward);

    for (auto it = forward.rbegin(); it != forward.rend(); ++it) {
      Op& op = **it;
      if (&op == &lossOp) {
        // The loss seeds the backward; a per-pixel loss that ends a row pipeline seeds the
        // pipeline's (its pipeline_grad's dy operand is the loss itself: dloss/dloss = 1).
        if (isPartitioned(op)) {
          pipelineGrad(op, op.result());
        } else {
          emitGrad(*this, op, nullptr);
        }
        continue;
      }
      // Every user of a result comes later in program order, so its gradient is complete.
      if (op.results.size() != 1) {
        const bool reached = std::any_of(op.results.begin(), op.results.end(), [&](Value* r) { return grads_.count(r) != 0; });
        if (reached) emitGrad(*this, op, resultGrad(op.results.front()));
        continue;
      }
      if (isPartitioned(op)) {
        // A partitioned row pipeline is differentiated as one unit, at its output.
        auto g = grads_.find(op.result());
        if (g != grads_.end()) pipelineGrad(op, g->second);
        continue;
      }
      auto g = grads_.find(op.result());
      if (g != grads_.end()) emitGrad(*this, op, g->second);
    }
    addOptimizerUpdates();
  }

 private:
  ir::Module& m_;
  const ops::OptimizerInfo& optimizer_;
  ValueSet requiresGrad_;
  ValueMap<Value*> grads_;  // the gradient accumulated so far

  void markRequiresGrad(const std::vector<Op*>& forward) {
    for (const Value* g : m_.globals)
      if (g->kind == ValueKind::Param) requiresGrad_.insert(g);
    for (const Op* op : forward)
      if (std::any_of(op->operands.begin(), op->operands.end(), [&](Value* v) { return needs(v); }))
        requiresGrad_.insert(op->results.begin(), op->results.end());
  }

  bool needs(const Value* v) const { return requiresGrad_.count(v) != 0; }

  // GradBuilder: gradient ops are appended; a contribution is accumulated at once.
  bool needsGrad(const Value* v) const override { return needs(v); }
  Op* emit(OpKind kind, std::vector<Value*> operands, Attrs attrs,
           std::vector<std::pair<std::string, TensorType>> results) override {
    for (auto& r : results) r.first = m_.uniqueName(r.first);
    return m_.addOp(kind, std::move(operands), std::move(attrs), std::move(results));
  }
  void contribute(const Op& op, size_t operand, Value* grad) override { accumulate(op.operands[operand], grad); }
  Value* resultGrad(const Value* result) const override {
    auto it = grads_.find(result);
    return it == grads_.end() ? nullptr : it->second;
  }
  Value* takeGrad(const Value* x) override {
    auto it = grads_.find(x);
    if (it == grads_.end()) return nullptr;
    Value* g = it->second;
    grads_.erase(it);
    return g;
  }

  // Adds one gradient contribution to `x`; a second one and later are summed with `add`.
  void accumulate(Value* x, Value* g) {
    auto [it, first] = grads_.try_emplace(x, g);
    if (!first) it->second = emit(OpKind::Add, {it->second, g}, {}, {{"d" + x->name, x->type}})->result();
  }

  static bool isPartitioned(const Op& op) { return op.has("pipeline") && op.has("fp_rows"); }

  // The output op of a partitioned pipeline (the one whose result is used outside it) gets
  // `pipeline_grad(dy, externals...) {pipeline=K, grads=[...]}`: the gradients of the
  // pipeline's operands defined outside it (input maps and params) that need one, lowered
  // strip by strip by lower-row-pipelines. Its other ops get no gradient of their own.
  void pipelineGrad(Op& out, Value* dy) {
    const int64_t id = out.getInt("pipeline");
    std::vector<Value*> externals;
    auto external = [&](Value* v) {
      if (std::find(externals.begin(), externals.end(), v) == externals.end()) externals.push_back(v);
    };
    const std::map<const Op*, const Op*> gates = pointGates(m_);
    ValueSet defined;
    for (auto& op : m_.ops) {
      if (!isPartitioned(*op) || op->getInt("pipeline") != id) continue;
      for (Value* v : op->operands) {
        if (defined.count(v)) continue;
        if (!reducedInside(v, defined, gates)) {
          external(v);
          continue;
        }
        // A gate's value: the globals its ops read (their parameters) are the pipeline's.
        std::vector<const Op*> todo = {v->def};
        while (!todo.empty()) {
          const Op* g = todo.back();
          todo.pop_back();
          if (!gates.count(g)) continue;
          for (Value* u : g->operands) u->isGlobal() ? external(u) : todo.push_back(u->def);
        }
      }
      defined.insert(op->results.begin(), op->results.end());
      if (op.get() == &out) break;
    }
    std::vector<Value*> operands = {dy};
    IntList grads;
    std::vector<std::pair<std::string, TensorType>> results;
    for (Value* v : externals) {
      operands.push_back(v);
      if (!needs(v)) continue;
      grads.push_back(static_cast<int64_t>(operands.size() - 1));
      results.emplace_back(m_.uniqueName("d" + v->name), v->type);
    }
    if (grads.empty()) return;
    // The statistics of a recomputed BatchNorm point of this pipeline that later ops read too
    // (a recomputed skip map's copied apply, in a decoder's pipeline: fuse-row-pipelines'
    // option `skips`) come with the gradient those readers gave them, as the operand pair
    // (statistics, gradient) at each index of `seeds`; the lowering starts their sums from it.
    IntList seeds;
    for (auto& op : m_.ops) {
      if (op->kind != OpKind::BatchNormStats || !reducedInside(op->results.front(), defined, gates)) continue;
      for (Value* r : op->results)
        if (Value* g = takeGrad(r)) {
          seeds.push_back(static_cast<int64_t>(operands.size()));
          operands.push_back(r);
          operands.push_back(g);
        }
    }
    Attrs attrs = {{"pipeline", id}, {"grads", grads}};
    if (!seeds.empty()) attrs["seeds"] = seeds;
    Op* grad = m_.addOp(OpKind::PipelineGrad, std::move(operands), std::move(attrs), results);
    for (size_t r = 0; r < grad->results.size(); ++r)
      accumulate(grad->operands[static_cast<size_t>(grads[r])], grad->results[r]);
  }

  // The statistics of a recomputed reduction point whose map the pipeline computes (`defined`
  // so far), or a value of its gate: lower-row-pipelines differentiates through them inside
  // the pipeline's backward (between its passes, and in the second), so they are no external
  // operand of pipeline_grad and get no gradient here.
  static bool reducedInside(const Value* v, const ValueSet& defined, const std::map<const Op*, const Op*>& gates) {
    const Op* point = v->def;
    if (auto gate = point ? gates.find(point) : gates.end(); gate != gates.end()) point = gate->second;
    return point && isRecomputedPoint(*point) && defined.count(point->operands[0]);
  }

  // The state globals are declared in parameter order; each update goes right after
  // the later of the op that produced the parameter's final gradient and the last op that
  // reads the parameter (a gemm whose A and B are both parameters reads A for dB after
  // dA is complete), after any update already placed there, so two gradients of one op
  // update in parameter order.
  void addOptimizerUpdates() {
    std::vector<Value*> params;
    for (Value* g : m_.globals)
      if (g->kind == ValueKind::Param && grads_.count(g)) params.push_back(g);
    for (Value* p : params) {
      Value* grad = grads_.at(p);
      std::vector<Value*> operands = {p, grad};
      for (int s = 0; s < optimizer_.stateCount; ++s) {
        const ops::OptimizerState& state = optimizer_.state[static_cast<size_t>(s)];
        const TensorType type = state.scalar ? TensorType{DType::F32, {}} : p->type;
        Value* v = m_.addGlobal(ValueKind::State, m_.uniqueName(p->name + "." + std::string(state.suffix)), type);
        // No data: optimizer state starts at zero, which the plan zero-fills (EmitPlan.cpp).
        operands.push_back(v);
      }
      size_t index = 0;
      for (size_t i = 0; i < m_.ops.size(); ++i) {
        const Op& op = *m_.ops[i];
        bool reads = std::find(op.operands.begin(), op.operands.end(), p) != op.operands.end();
        if (&op == grad->def || (reads && !ops::isOptimizerUpdate(op.kind))) index = i + 1;
      }
      while (index < m_.ops.size() && ops::isOptimizerUpdate(m_.ops[index]->kind)) ++index;
      m_.insertOp(index, optimizer_.update, std::move(operands), {}, {});
    }
  }
};

class Autodiff : public Pass {
 public:
  explicit Autodiff(const AutodiffOptions& options) : options_(options) {}
  std::string_view name() const override { return "autodiff"; }

  bool transform(ir::Module& m) override {
    Op* loss = m.outputs.empty() ? nullptr : m.outputs[0]->def;
    if (!loss || !ops::isLoss(loss->kind)) {
      std::string found = "no outputs";
      if (!m.outputs.empty()) {
        found = "%" + m.outputs[0]->name;
        if (loss) found += " (produced by " + std::string(ir::opName(loss->kind)) + ")";
      }
      throw Error("autodiff: the first module output must be the loss (softmax_xent or pixel_xent), found " +
                      found + "; run append-loss first",
                  loss ? loss->loc : ir::Location{});
    }
    for (const auto& op : m.ops)
      if (ops::info(op->kind).role == ops::Role::Backward || ops::info(op->kind).role == ops::Role::Optimizer)
        throw Error("autodiff: module @" + m.name + " already has a backward graph (" +
                        op->describe() + ")",
                    op->loc);
    size_t forwardOps = m.ops.size();
    BackwardBuilder(m, options_.optimizer).build(*loss);
    return m.ops.size() != forwardOps;  // false when no param reaches the loss
  }

 private:
  AutodiffOptions options_;
};

}  // namespace

std::unique_ptr<Pass> createAutodiffPass(const AutodiffOptions& options) { return std::make_unique<Autodiff>(options); }

}  // namespace lrc::passes

// Builds the backward graph and the optimizer step of a module whose outputs[0] is a
// softmax_xent loss (see append-loss). Gradient ops are appended after the forward ops,
// visiting the forward ops in reverse program order:
//  - only values that require a gradient get one: params, and results of ops with an
//    operand that requires one. Graph inputs (the image), labels, state and consts get
//    none, so e.g. the first convolution has no conv2d_grad_input;
//  - a value used by several ops has its contributions summed with `add` as they arrive;
//  - every param that got a gradient gets a zero-initialized `<param>.momentum` state and
//    an `sgd_update` placed right after the op that completes its gradient, so the
//    gradient can die early. A param no gradient reaches (unused, or only behind a gemm
//    with beta 0) gets no update: it is left as it is, exactly as torch.optim.SGD skips
//    a parameter whose .grad is None.
// Gradient values are named `d<forward name>`, made unique.
#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "passes/Pass.h"

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

bool isBackwardKind(OpKind k) {
  switch (k) {
    case OpKind::SoftmaxXentGrad:
    case OpKind::Conv2dGradInput:
    case OpKind::Conv2dGradWeight:
    case OpKind::ChannelSum:
    case OpKind::ReluGrad:
    case OpKind::MaxPoolGrad:
    case OpKind::AveragePoolGrad:
    case OpKind::GlobalAvgPoolGrad:
    case OpKind::BatchNormGrad:
    case OpKind::DropoutGrad:
    case OpKind::SumTo:
    case OpKind::SgdUpdate:
    case OpKind::PipelineGrad: return true;
    default: return false;
  }
}

// The attributes `keys` of `op`, copied.
Attrs pick(const Op& op, std::initializer_list<const char*> keys) {
  Attrs a;
  for (const char* k : keys) {
    auto it = op.attrs.find(k);
    if (it == op.attrs.end())
      throw Error(op.describe() + ": missing attribute '" + k + "'", op.loc);
    a[k] = it->second;
  }
  return a;
}

std::string formatNumber(double x) {
  std::ostringstream s;
  s << x;
  return s.str();
}

IntList shapeOf(const Value* v) { return {v->type.shape.begin(), v->type.shape.end()}; }

class BackwardBuilder {
 public:
  explicit BackwardBuilder(ir::Module& m) : m_(m) {}

  void build(Op& lossOp) {
    std::vector<Op*> forward;
    for (auto& op : m_.ops) forward.push_back(op.get());
    markRequiresGrad(forward);

    for (auto it = forward.rbegin(); it != forward.rend(); ++it) {
      Op& op = **it;
      if (&op == &lossOp) {
        seedLoss(op);
        continue;
      }
      // Every user of a result comes later in program order, so its gradient is complete.
      if (op.results.size() != 1) continue;
      if (isPartitioned(op)) {
        // A partitioned row pipeline is differentiated as one unit, at its output.
        auto g = grads_.find(op.result());
        if (g != grads_.end()) pipelineGrad(op, g->second);
        continue;
      }
      auto g = grads_.find(op.result());
      if (g != grads_.end()) backprop(op, g->second);
    }
    addOptimizerUpdates();
  }

 private:
  ir::Module& m_;
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

  Value* emit(OpKind kind, std::vector<Value*> operands, Attrs attrs, const Value* gradOf,
              TensorType type) {
    Op* op = m_.addOp(kind, std::move(operands), std::move(attrs),
                      {{m_.uniqueName("d" + gradOf->name), std::move(type)}});
    return op->result();
  }

  // Adds one gradient contribution to `x`; a second one and later are summed with `add`.
  void contribute(Value* x, Value* g) {
    auto [it, first] = grads_.try_emplace(x, g);
    if (!first) it->second = emit(OpKind::Add, {it->second, g}, {}, x, x->type);
  }

  // The gradient of a value broadcast to dy's shape: dy summed back to the value's shape.
  Value* sumTo(Value* dy, Value* x) {
    if (dy->type.shape == x->type.shape) return dy;
    return emit(OpKind::SumTo, {dy}, {{"shape", shapeOf(x)}}, x, x->type);
  }

  void seedLoss(Op& loss) {
    Value* logits = loss.operands[0];
    if (!needs(logits)) return;
    contribute(logits,
               emit(OpKind::SoftmaxXentGrad, {logits, loss.operands[1]}, {}, logits, logits->type));
  }

  void backprop(Op& op, Value* dy) {
    switch (op.kind) {
      case OpKind::Conv2d: return conv(op, dy);
      case OpKind::Relu:
        return contribute(op.operands[0], emit(OpKind::ReluGrad, {dy, op.result()}, {},
                                               op.operands[0], op.operands[0]->type));
      case OpKind::MaxPool: {
        Value* x = op.operands[0];
        return contribute(
            x, emit(OpKind::MaxPoolGrad, {dy, x},
                    pick(op, {"ceil_mode", "dilation", "kernel", "pad", "stride"}), x, x->type));
      }
      case OpKind::AveragePool: {
        Value* x = op.operands[0];
        Attrs a = pick(op, {"ceil_mode", "count_include_pad", "kernel", "pad", "stride"});
        a["input_shape"] = shapeOf(x);
        return contribute(x, emit(OpKind::AveragePoolGrad, {dy}, std::move(a), x, x->type));
      }
      case OpKind::GlobalAvgPool: {
        Value* x = op.operands[0];
        return contribute(
            x, emit(OpKind::GlobalAvgPoolGrad, {dy}, {{"input_shape", shapeOf(x)}}, x, x->type));
      }
      case OpKind::Pad: {
        // The gradient of a constant pad is a crop: pad by the negated amounts.
        Value* x = op.operands[0];
        IntList pads = op.getInts("pads");
        for (int64_t& p : pads) p = -p;
        return contribute(x, emit(OpKind::Pad, {dy}, {{"pads", pads}, {"value", 0.0}}, x, x->type));
      }
      case OpKind::BatchNorm: return batchNorm(op, dy);
      case OpKind::Add:
        for (Value* side : op.operands)
          if (needs(side)) contribute(side, sumTo(dy, side));
        return;
      case OpKind::Flatten:
      case OpKind::Reshape: {
        Value* x = op.operands[0];
        return contribute(x, emit(OpKind::Reshape, {dy}, {{"shape", shapeOf(x)}}, x, x->type));
      }
      case OpKind::Gemm:
        return gemm(op, dy, op.getFloat("alpha"), op.getInt("transA") != 0,
                    op.getInt("transB") != 0);
      case OpKind::MatMul: return gemm(op, dy, 1.0, false, false);
      case OpKind::Dropout:
        if (op.getInt("training") != 0) {
          Value* x = op.operands[0];
          return contribute(x, emit(OpKind::DropoutGrad, {dy},
                                    pick(op, {"ratio", "seed", "training"}), x, x->type));
        }
        [[fallthrough]];  // inference dropout is the identity (canonicalize forwards it)
      case OpKind::Identity: return contribute(op.operands[0], dy);
      default:
        throw Error("autodiff: cannot train through " + op.describe() + ": it has no gradient rule",
                    op.loc);
    }
  }

  static bool isPartitioned(const Op& op) { return op.has("pipeline") && op.has("fp_rows"); }

  // The output op of a partitioned pipeline (the one whose result is used outside it) gets
  // `pipeline_grad(dy, externals...) {pipeline=K, grads=[...]}`: the gradients of the
  // pipeline's operands defined outside it (input maps and params) that need one, lowered
  // strip by strip by lower-row-pipelines. Its other ops get no gradient of their own.
  void pipelineGrad(Op& out, Value* dy) {
    const int64_t id = out.getInt("pipeline");
    std::vector<Value*> externals;
    ValueSet defined;
    for (auto& op : m_.ops) {
      if (!isPartitioned(*op) || op->getInt("pipeline") != id) continue;
      for (Value* v : op->operands)
        if (!defined.count(v) && std::find(externals.begin(), externals.end(), v) == externals.end())
          externals.push_back(v);
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
    Op* grad = m_.addOp(OpKind::PipelineGrad, std::move(operands), {{"pipeline", id}, {"grads", grads}}, results);
    for (size_t r = 0; r < grad->results.size(); ++r)
      contribute(grad->operands[static_cast<size_t>(grads[r])], grad->results[r]);
  }

  void conv(Op& op, Value* dy) {
    Value* x = op.operands[0];
    Value* w = op.operands[1];
    if (needs(x)) {
      Attrs a = pick(op, {"dilation", "group", "pad", "stride"});
      a["input_shape"] = shapeOf(x);
      contribute(x, emit(OpKind::Conv2dGradInput, {dy, w}, std::move(a), x, x->type));
    }
    if (needs(w)) {
      Attrs a = pick(op, {"dilation", "group", "pad", "stride"});
      a["kernel"] = IntList{w->type.shape.at(2), w->type.shape.at(3)};
      contribute(w, emit(OpKind::Conv2dGradWeight, {dy, x}, std::move(a), w, w->type));
    }
    if (op.operands.size() == 3 && needs(op.operands[2])) {
      Value* b = op.operands[2];
      contribute(b, emit(OpKind::ChannelSum, {dy}, {}, b, b->type));
    }
  }

  void batchNorm(Op& op, Value* dy) {
    Value* x = op.operands[0];
    Value* scale = op.operands[1];
    Value* bias = op.operands[2];
    // One op gives all three gradients; the ones nobody needs stay unused.
    Op* grad = m_.addOp(OpKind::BatchNormGrad, {dy, x, scale, op.operands[3], op.operands[4]},
                        pick(op, {"epsilon", "training"}),
                        {{m_.uniqueName("d" + x->name), x->type},
                         {m_.uniqueName("d" + scale->name), scale->type},
                         {m_.uniqueName("d" + bias->name), bias->type}});
    Value* parts[] = {x, scale, bias};
    for (size_t i = 0; i < 3; ++i)
      if (needs(parts[i])) contribute(parts[i], grad->results[i]);
  }

  // Y = alpha * op(A) op(B) + beta * C, op(X) = X or X^T. With A' = op(A), B' = op(B):
  // dA' = alpha dY B'^T and dB' = alpha A'^T dY; transposing back where A or B was
  // transposed gives
  //   dA = gemm(dY, B) {transA=0, transB=!tB}   if !tA     (alpha dY B'^T)
  //   dA = gemm(B, dY) {transA=tB, transB=1}    if tA      (alpha B' dY^T)
  //   dB = gemm(A, dY) {transA=!tA, transB=0}   if !tB     (alpha A'^T dY)
  //   dB = gemm(dY, A) {transA=1, transB=tA}    if tB      (alpha dY^T A')
  // (each checked against finite differences for all four combinations).
  void gemm(Op& op, Value* dy, double alpha, bool tA, bool tB) {
    Value* a = op.operands[0];
    Value* b = op.operands[1];
    auto product = [&](Value* lhs, Value* rhs, bool transL, bool transR, Value* gradOf) {
      Attrs attrs = {{"alpha", alpha},
                     {"beta", 0.0},
                     {"transA", int64_t{transL}},
                     {"transB", int64_t{transR}}};
      return emit(OpKind::Gemm, {lhs, rhs}, std::move(attrs), gradOf, gradOf->type);
    };
    if (needs(a)) contribute(a, tA ? product(b, dy, tB, true, a) : product(dy, b, false, !tB, a));
    if (needs(b)) contribute(b, tB ? product(dy, a, true, tA, b) : product(a, dy, !tA, false, b));
    if (op.operands.size() < 3 || !needs(op.operands[2])) return;
    Value* c = op.operands[2];
    double beta = op.getFloat("beta");
    if (beta == 0.0) return;  // C does not reach the output
    if (beta != 1.0)
      throw Error("autodiff: " + op.describe() + ": beta=" + formatNumber(beta) +
                      " with a trainable C is not supported in training (only 0 or 1)",
                  op.loc);
    contribute(c, sumTo(dy, c));
  }

  // The momentum buffers are declared in parameter order; each update goes right after
  // the later of the op that produced the parameter's final gradient and the last op that
  // reads the parameter (a gemm whose A and B are both parameters reads A for dB after
  // dA is complete), after any update already placed there, so two gradients of one op
  // update in parameter order.
  void addOptimizerUpdates() {
    std::vector<Value*> params;
    for (Value* g : m_.globals)
      if (g->kind == ValueKind::Param && grads_.count(g)) params.push_back(g);
    for (Value* p : params) {
      Value* momentum =
          m_.addGlobal(ValueKind::State, m_.uniqueName(p->name + ".momentum"), p->type);
      if (p->hasData()) momentum->floats.assign(static_cast<size_t>(p->type.numElements()), 0.0f);
      Value* grad = grads_.at(p);
      size_t index = 0;
      for (size_t i = 0; i < m_.ops.size(); ++i) {
        const Op& op = *m_.ops[i];
        bool reads = std::find(op.operands.begin(), op.operands.end(), p) != op.operands.end();
        if (&op == grad->def || (reads && op.kind != OpKind::SgdUpdate)) index = i + 1;
      }
      while (index < m_.ops.size() && m_.ops[index]->kind == OpKind::SgdUpdate) ++index;
      m_.insertOp(index, OpKind::SgdUpdate, {p, grad, momentum}, {}, {});
    }
  }
};

class Autodiff : public Pass {
 public:
  std::string_view name() const override { return "autodiff"; }

  bool run(ir::Module& m) override {
    Op* loss = m.outputs.empty() ? nullptr : m.outputs[0]->def;
    if (!loss || loss->kind != OpKind::SoftmaxXent) {
      std::string found = "no outputs";
      if (!m.outputs.empty()) {
        found = "%" + m.outputs[0]->name;
        if (loss) found += " (produced by " + std::string(ir::opName(loss->kind)) + ")";
      }
      throw Error("autodiff: the first module output must be the loss (softmax_xent), found " +
                      found + "; run append-loss first",
                  loss ? loss->loc : ir::Location{});
    }
    for (const auto& op : m.ops)
      if (isBackwardKind(op->kind))
        throw Error("autodiff: module @" + m.name + " already has a backward graph (" +
                        op->describe() + ")",
                    op->loc);
    size_t forwardOps = m.ops.size();
    BackwardBuilder(m).build(*loss);
    return m.ops.size() != forwardOps;  // false when no param reaches the loss
  }
};

}  // namespace

std::unique_ptr<Pass> createAutodiffPass() { return std::make_unique<Autodiff>(); }

}  // namespace lrc::passes

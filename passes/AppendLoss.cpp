// Turns an imported classifier into something training can minimize: the one module
// output must be the logits f32[N,K]; the pass adds `input %labels : i64[N]` and
// `%loss = softmax_xent(%logits, %labels) : f32[]` (mean over the batch, as PyTorch's
// cross_entropy), and returns [loss, logits] — the runtime reports accuracy from the logits.
#include "passes/Pass.h"

namespace lrc::passes {

namespace {

using ir::DType;
using ir::Error;
using ir::OpKind;
using ir::Value;

std::string describeOutputs(const std::vector<Value*>& outputs) {
  std::string s;
  for (const Value* v : outputs) s += (s.empty() ? "%" : ", %") + v->name + " : " + v->type.str();
  return s;
}

class AppendLoss : public Pass {
 public:
  std::string_view name() const override { return "append-loss"; }

  bool transform(ir::Module& m) override {
    // Checked first: after this pass the module has two outputs, and "already has a loss"
    // is the message that helps when the pass runs twice.
    for (const auto& op : m.ops)
      if (op->kind == OpKind::SoftmaxXent)
        throw Error(
            "append-loss: module @" + m.name + " already has a loss (" + op->describe() + ")",
            op->loc);
    if (m.outputs.size() != 1)
      throw Error("append-loss: expected exactly one module output (the logits), found " +
                  std::to_string(m.outputs.size()) +
                  (m.outputs.empty() ? "" : ": " + describeOutputs(m.outputs)));
    Value* logits = m.outputs[0];
    if (logits->def && logits->def->kind == OpKind::Softmax)
      throw Error("append-loss: the module output %" + logits->name +
                      " is a softmax; export the model's logits (the input of the final Softmax): "
                      "the loss applies softmax itself",
                  logits->def->loc);
    if (logits->type.dtype != DType::F32 || logits->type.shape.size() != 2)
      throw Error("append-loss: the module output must be the logits f32[N,K], found %" +
                      logits->name + " : " + logits->type.str(),
                  logits->def ? logits->def->loc : ir::Location{});

    const int64_t batch = logits->type.shape[0];
    Value* labels = m.addInput(m.uniqueName("labels"), {DType::I64, {batch}});
    ir::Op* xent = m.addOp(OpKind::SoftmaxXent, {logits, labels}, {},
                           {{m.uniqueName("loss"), {DType::F32, {}}}});
    m.outputs = {xent->result(), logits};
    return true;
  }
};

}  // namespace

std::unique_ptr<Pass> createAppendLossPass() { return std::make_unique<AppendLoss>(); }

}  // namespace lrc::passes

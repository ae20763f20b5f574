// Turns an imported network into something training can minimize. The one module output must
// be the logits:
//  - f32[N,K] (a classifier): the pass adds `input %labels : i64[N]` and
//    `%loss = softmax_xent(%logits, %labels) : f32[]` (mean over the batch, as PyTorch's
//    cross_entropy);
//  - f32[N,K,H,W] (a segmentation net): `input %labels : i64[N,H,W]` and
//    `%loss = pixel_xent(%logits, %labels) {ignore_index} : f32[]`, the mean over the pixels
//    whose label is not ignore_index (AppendLossOptions; PyTorch's cross_entropy on 4-D input).
// It returns [loss, logits]: the runtime reports accuracy (and mean IoU) from the logits.
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
  explicit AppendLoss(const AppendLossOptions& options) : options_(options) {}
  std::string_view name() const override { return "append-loss"; }

  bool transform(ir::Module& m) override {
    // Checked first: after this pass the module has two outputs, and "already has a loss"
    // is the message that helps when the pass runs twice.
    for (const auto& op : m.ops)
      if (ops::isLoss(op->kind))
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
    const std::vector<int64_t>& shape = logits->type.shape;
    if (logits->type.dtype != DType::F32 || (shape.size() != 2 && shape.size() != 4))
      throw Error("append-loss: the module output must be the logits f32[N,K] (classes) or f32[N,K,H,W] "
                  "(a class per pixel), found %" +
                      logits->name + " : " + logits->type.str(),
                  logits->def ? logits->def->loc : ir::Location{});

    ir::Op* xent = nullptr;
    if (shape.size() == 2) {
      Value* labels = m.addInput(m.uniqueName("labels"), {DType::I64, {shape[0]}});
      xent = m.addOp(OpKind::SoftmaxXent, {logits, labels}, {}, {{m.uniqueName("loss"), {DType::F32, {}}}});
    } else {
      Value* labels = m.addInput(m.uniqueName("labels"), {DType::I64, {shape[0], shape[2], shape[3]}});
      xent = m.addOp(OpKind::PixelXent, {logits, labels}, {{"ignore_index", options_.ignoreIndex}},
                     {{m.uniqueName("loss"), {DType::F32, {}}}});
    }
    m.outputs = {xent->result(), logits};
    return true;
  }

 private:
  AppendLossOptions options_;
};

}  // namespace

std::unique_ptr<Pass> createAppendLossPass(const AppendLossOptions& options) {
  return std::make_unique<AppendLoss>(options);
}

}  // namespace lrc::passes

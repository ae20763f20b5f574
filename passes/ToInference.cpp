// Turns a training graph's forward ops into their inference behaviour, for the evaluation
// step: BatchNorm normalizes with the running statistics (and no longer updates them),
// Dropout passes values through. Run canonicalize afterwards to drop the Dropouts.
#include "passes/Pass.h"

namespace lrc::passes {

namespace {

class ToInference : public Pass {
 public:
  std::string_view name() const override { return "to-inference"; }
  bool transform(ir::Module& m) override {
    bool changed = false;
    for (auto& op : m.ops) {
      if (op->kind != ir::OpKind::BatchNorm && op->kind != ir::OpKind::Dropout) continue;
      if (op->getInt("training") == 0) continue;
      op->attrs["training"] = int64_t{0};
      changed = true;
    }
    return changed;
  }
};

}  // namespace

std::unique_ptr<Pass> createToInferencePass() { return std::make_unique<ToInference>(); }

}  // namespace lrc::passes

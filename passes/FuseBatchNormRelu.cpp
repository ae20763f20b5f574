// Fuses a ReLU into the batchnorm_apply it reads (issue 14, "fewer passes over memory"):
//   %z = batchnorm_apply(x, scale, bias, mean, invstd)
//   %y = relu(%z)
// becomes
//   %y = batchnorm_apply(x, scale, bias, mean, invstd) {relu=1}
// when the apply has no other use (nor is an output). One pass over the map instead of two
// forward, and backward one batchnorm_apply_grad {relu=1} instead of relu_grad then
// batchnorm_apply_grad (passes/GradEmitter: the mask is recomputed from x and the bias, so the
// gradient reads no map the two unfused ops did not, and %z is never materialized). The result
// keeps the ReLU's name. Run on the forward graph after batchnorm-policy (it makes the applies)
// and before autodiff; compiler/CompilePipeline runs it unless lrc-compile --no-fuse-bn-relu.
#include <algorithm>

#include "passes/Pass.h"

namespace lrc::passes {

namespace {

using ir::Op;
using ir::OpKind;
using ir::Value;

class FuseBatchNormRelu : public Pass {
 public:
  std::string_view name() const override { return "fuse-batchnorm-relu"; }

  bool transform(ir::Module& m) override {
    bool changed = false;
    for (size_t i = 0; i < m.ops.size(); ++i) {
      Op* apply = m.ops[i].get();
      if (apply->kind != OpKind::BatchNormApply || apply->has("relu")) continue;
      Value* z = apply->result();
      if (std::find(m.outputs.begin(), m.outputs.end(), z) != m.outputs.end()) continue;
      const std::vector<Op*> users = m.users(z);
      if (users.size() != 1 || users[0]->kind != OpKind::Relu) continue;
      Op* relu = users[0];
      // The apply takes over the ReLU's result (its name and uses); the ReLU, left with %z
      // and no operand, is erased.
      Value* y = relu->result();
      apply->results[0] = y;
      y->def = apply;
      relu->results[0] = z;
      z->def = relu;
      relu->operands.clear();
      m.eraseOp(relu);
      apply->attrs["relu"] = int64_t{1};
      changed = true;
    }
    return changed;
  }
};

}  // namespace

std::unique_ptr<Pass> createFuseBatchNormReluPass() { return std::make_unique<FuseBatchNormRelu>(); }

}  // namespace lrc::passes

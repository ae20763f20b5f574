// Recomputes every op's result types from its operands, in program order, so that a
// change of input shape (batch, image size) propagates through the graph.
#include "ir/ShapeInference.h"
#include "passes/Pass.h"

namespace lrc::passes {

namespace {
class InferShapes : public Pass {
 public:
  std::string_view name() const override { return "infer-shapes"; }
  bool needsInferredShapes() const override { return false; }
  bool transform(ir::Module& m) override {
    bool changed = false;
    for (auto& op : m.ops) {
      std::vector<ir::TensorType> types = ir::inferResultTypes(*op);
      for (size_t i = 0; i < op->results.size(); ++i) {
        if (op->results[i]->type == types[i]) continue;
        op->results[i]->type = types[i];
        changed = true;
      }
    }
    return changed;
  }
};
}  // namespace

std::unique_ptr<Pass> createInferShapesPass() { return std::make_unique<InferShapes>(); }

}  // namespace lrc::passes

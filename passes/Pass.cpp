#include "passes/Pass.h"

#include "ir/ShapeInference.h"

namespace lrc::passes {

namespace {
struct Registration {
  std::string_view name;
  std::unique_ptr<Pass> (*factory)();
};
constexpr Registration kPasses[] = {
#define PASS(NAME, FACTORY) {NAME, &FACTORY},
#define PASS_WITH_OPTIONS(NAME, FACTORY, OPTIONS) {NAME, [] { return FACTORY(); }},
#include "passes/Passes.def"
};
}  // namespace

void requireInferredShapes(const ir::Module& m, std::string_view pass) {
  const std::string prefix = std::string(pass) + ": ";
  for (const auto& op : m.ops) {
    std::vector<ir::TensorType> types;
    try {
      types = ir::inferResultTypes(*op);
    } catch (const ir::Error& e) {  // operands infer-shapes cannot fix either
      throw ir::Error(prefix + e.what(), e.location());
    }
    for (size_t i = 0; i < op->results.size() && i < types.size(); ++i)
      if (op->results[i]->type != types[i])
        throw ir::Error(prefix + op->describe() + ": result %" + op->results[i]->name + " has type " +
                            op->results[i]->type.str() + ", its shape rule gives " + types[i].str() +
                            "; run infer-shapes first",
                        op->loc);
  }
}

bool Pass::run(ir::Module& m) {
  if (needsInferredShapes()) requireInferredShapes(m, name());
  return transform(m);
}

std::unique_ptr<Pass> createPass(std::string_view name) {
  for (const Registration& r : kPasses)
    if (r.name == name) return r.factory();
  return nullptr;
}

std::vector<std::string_view> passNames() {
  std::vector<std::string_view> names;
  for (const Registration& r : kPasses) names.push_back(r.name);
  return names;
}

}  // namespace lrc::passes

// The pass interface and the one registration list (Passes.def). Passes that take options
// take them typed (passes/PassOptions.h); lrc-opt reads them from `--passes` text.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ir/IR.h"
#include "passes/PassOptions.h"

namespace lrc::passes {

class Pass {
 public:
  virtual ~Pass() = default;
  virtual std::string_view name() const = 0;
  // Transforms the module in place and returns whether it changed anything. Failures
  // throw ir::Error located at the offending op. First checks that every op's operand and
  // result types are what its shape rule gives (requireInferredShapes): passes read them.
  bool run(ir::Module& m);

 protected:
  virtual bool transform(ir::Module& m) = 0;
  // False for infer-shapes only: it is what makes the types so.
  virtual bool needsInferredShapes() const { return true; }
};

// Throws an ir::Error naming `pass`, located at the first op whose operands its shape rule
// rejects or whose result types are not the ones the rule gives (then saying to run
// infer-shapes first). IR text may declare any types, and lrc-opt runs its passes before it
// checks them (infer-shapes may be the one fixing them): a pass reading them unchecked
// indexed past a shape's end (autodiff, partition-rows) or crashed (plan-memory).
void requireInferredShapes(const ir::Module& m, std::string_view pass);

// The pass with that name, its options (if any) at their defaults; nullptr when there is none.
std::unique_ptr<Pass> createPass(std::string_view name);
std::vector<std::string_view> passNames();

// One factory per pass, defined in the pass's own file.
#define PASS(NAME, FACTORY) std::unique_ptr<Pass> FACTORY();
#define PASS_WITH_OPTIONS(NAME, FACTORY, OPTIONS) std::unique_ptr<Pass> FACTORY(const OPTIONS& options = {});
#include "passes/Passes.def"

}  // namespace lrc::passes

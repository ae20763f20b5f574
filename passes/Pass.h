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
  // throw ir::Error located at the offending op.
  virtual bool run(ir::Module& m) = 0;
};

// The pass with that name, its options (if any) at their defaults; nullptr when there is none.
std::unique_ptr<Pass> createPass(std::string_view name);
std::vector<std::string_view> passNames();

// One factory per pass, defined in the pass's own file.
#define PASS(NAME, FACTORY) std::unique_ptr<Pass> FACTORY();
#define PASS_WITH_OPTIONS(NAME, FACTORY, OPTIONS) std::unique_ptr<Pass> FACTORY(const OPTIONS& options = {});
#include "passes/Passes.def"

}  // namespace lrc::passes

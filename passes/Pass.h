// The pass interface and the one registration list (Passes.def).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ir/IR.h"

namespace lrc::passes {

class Pass {
 public:
  virtual ~Pass() = default;
  virtual std::string_view name() const = 0;
  // Transforms the module in place and returns whether it changed anything. Failures
  // throw ir::Error located at the offending op.
  virtual bool run(ir::Module& m) = 0;
  // A pass option, from `--passes=name{key=value,...}`; passes that take none reject all.
  virtual void setOption(const std::string& key, const std::string& value);
};

// nullptr when no pass has that name.
std::unique_ptr<Pass> createPass(std::string_view name);

// A pipeline written as text: `a,b{key=value,key=value},c`. Throws ir::Error for unknown
// passes, unknown options or malformed text.
std::vector<std::unique_ptr<Pass>> parsePassPipeline(std::string_view text);
std::vector<std::string_view> passNames();

// One factory per pass, defined in the pass's own file.
#define PASS(NAME, FACTORY) std::unique_ptr<Pass> FACTORY();
#include "passes/Passes.def"

}  // namespace lrc::passes

#include "compiler/CompilePipeline.h"

#include "ir/Verifier.h"
#include "passes/Pass.h"

namespace lrc::compiler {

namespace {
void runPasses(ir::Module& m, std::initializer_list<std::string_view> names) {
  for (std::string_view name : names) {
    std::unique_ptr<passes::Pass> pass = passes::createPass(name);
    if (!pass) throw ir::Error("internal error: no pass named '" + std::string(name) + "'");
    pass->run(m);
    ir::verifyModule(m);
  }
}
}  // namespace

void runImportPipeline(ir::Module& m) {
  runPasses(m, {
                   "canonicalize",  // Identity, inference Dropout, Reshape-as-Flatten
                   "infer-shapes",
               });
}

}  // namespace lrc::compiler

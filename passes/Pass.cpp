#include "passes/Pass.h"

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

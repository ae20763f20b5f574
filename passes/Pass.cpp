#include "passes/Pass.h"

#include <functional>

namespace lrc::passes {

namespace {
struct Registration {
  std::string_view name;
  std::unique_ptr<Pass> (*factory)();
};
constexpr Registration kPasses[] = {
#define PASS(NAME, FACTORY) {NAME, &FACTORY},
#include "passes/Passes.def"
};
}  // namespace

std::unique_ptr<Pass> createPass(std::string_view name) {
  for (const Registration& r : kPasses)
    if (r.name == name) return r.factory();
  return nullptr;
}

void Pass::setOption(const std::string& key, const std::string&) {
  throw ir::Error("pass '" + std::string(name()) + "' has no option '" + key + "'");
}

namespace {
std::string knownPasses() {
  std::string known;
  for (std::string_view n : passNames()) {
    if (!known.empty()) known += ", ";
    known += n;
  }
  return known;
}

void parseOptions(Pass& pass, std::string_view text) {
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view item = text.substr(start, end - start);
    size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0)
      throw ir::Error("pass '" + std::string(pass.name()) + "': option '" + std::string(item) +
                      "' is not key=value");
    pass.setOption(std::string(item.substr(0, eq)), std::string(item.substr(eq + 1)));
    start = end + 1;
  }
}
}  // namespace

std::vector<std::unique_ptr<Pass>> parsePassPipeline(std::string_view text) {
  std::vector<std::unique_ptr<Pass>> pipeline;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = pos;
    while (end < text.size() && text[end] != ',' && text[end] != '{') ++end;
    std::string_view name = text.substr(pos, end - pos);
    std::unique_ptr<Pass> pass = createPass(name);
    if (!pass) throw ir::Error("unknown pass '" + std::string(name) + "' (passes: " + knownPasses() + ")");
    if (end < text.size() && text[end] == '{') {
      size_t close = text.find('}', end);
      if (close == std::string_view::npos)
        throw ir::Error("pass '" + std::string(name) + "': missing '}' after its options");
      parseOptions(*pass, text.substr(end + 1, close - end - 1));
      end = close + 1;
      if (end < text.size() && text[end] != ',')
        throw ir::Error("expected ',' after the options of pass '" + std::string(name) + "'");
    }
    pipeline.push_back(std::move(pass));
    pos = end + 1;
  }
  return pipeline;
}

std::vector<std::string_view> passNames() {
  std::vector<std::string_view> names;
  for (const Registration& r : kPasses) names.push_back(r.name);
  return names;
}

}  // namespace lrc::passes

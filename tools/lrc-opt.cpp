// lrc-opt FILE --passes=a,b{key=value,...} [--split-input-file] [--print-after-all] [-o OUT]
// Parses IR text, verifies it, runs the named passes in order (verifying after each), and
// prints the result. With --split-input-file, chunks separated by `// -----` are handled
// independently; an error in one chunk is reported and the others still run. The pass
// options are read here, into the typed options of passes/PassOptions.h, and nowhere else.
#include <algorithm>
#include <charconv>
#include <iostream>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "ir/Parser.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"
#include "passes/Pass.h"
#include "passes/PipelineList.h"
#include "tools/ToolSupport.h"

using namespace lrc;

namespace {

// --- Pass pipelines as text: `a,b{key=value,key=value},c`. Errors throw ir::Error.

std::string cat(std::initializer_list<std::string_view> parts) {
  std::string s;
  for (std::string_view p : parts) s += p;
  return s;
}

[[noreturn]] void unknownOption(std::string_view pass, std::string_view key, std::string_view known) {
  throw ir::Error(cat({pass, ": unknown option '", key, "' (options: ", known, ")"}));
}

// `parsed`, or an error saying what the option's value must be.
template <class T>
T valueOf(std::optional<T> parsed, std::string_view pass, std::string_view key, std::string_view mustBe,
          std::string_view value) {
  if (!parsed) throw ir::Error(cat({pass, ": option '", key, "' must be ", mustBe, ", got '", value, "'"}));
  return *parsed;
}

std::optional<int64_t> integerAtLeast(int64_t least, std::string_view text) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < least) return std::nullopt;
  return n;
}

// The options of a pass that takes none.
struct NoOptions {};

void setOption(std::string_view pass, NoOptions&, std::string_view key, std::string_view) {
  throw ir::Error(cat({"pass '", pass, "' has no option '", key, "'"}));
}

void setOption(std::string_view pass, passes::BatchNormPolicyOptions& o, std::string_view key, std::string_view value) {
  if (key == "mode") {
    o.mode = valueOf(passes::parseBatchNormMode(value), pass, key, "exact, frozen or strip", value);
  } else if (key == "recompute") {
    o.recompute = valueOf(passes::parseRecomputePoints(value), pass, key, "none, all or point ids separated by ':'", value);
  } else {
    unknownOption(pass, key, "mode, recompute");
  }
}

void setOption(std::string_view pass, passes::FuseRowPipelinesOptions& o, std::string_view key, std::string_view value) {
  // The on/off options, each once: its key and the member it sets.
  using Flag = bool passes::FuseRowPipelinesOptions::*;
  static constexpr std::pair<std::string_view, Flag> kSwitches[] = {
      {"loss", &passes::FuseRowPipelinesOptions::loss},   {"clone", &passes::FuseRowPipelinesOptions::clone},
      {"remat", &passes::FuseRowPipelinesOptions::remat}, {"chain", &passes::FuseRowPipelinesOptions::chain},
      {"skips", &passes::FuseRowPipelinesOptions::skips}};
  for (const auto& [name, flag] : kSwitches) {
    if (key != name) continue;
    const std::optional<bool> on = value == "1" ? std::optional<bool>(true) : value == "0" ? std::optional<bool>(false) : std::nullopt;
    o.*flag = valueOf(on, pass, key, "0 or 1", value);
    return;
  }
  if (key != "cut") {
    std::string known = "cut";
    for (const auto& [name, flag] : kSwitches) known += cat({", ", name});
    unknownOption(pass, key, known);
  }
  if (!passes::parseSegmentCuts(value, o))
    throw ir::Error(cat({pass, ": option 'cut' must be none, downsample or cut point ids separated by ':', got '", value, "'"}));
}

std::optional<int64_t> anyInteger(std::string_view text) {
  return integerAtLeast(std::numeric_limits<int64_t>::min(), text);
}

void setOption(std::string_view pass, passes::AppendLossOptions& o, std::string_view key, std::string_view value) {
  if (key != "ignore-index") unknownOption(pass, key, "ignore-index");
  o.ignoreIndex = valueOf(anyInteger(value), pass, key, "an integer", value);
}

void setOption(std::string_view pass, passes::AutodiffOptions& o, std::string_view key, std::string_view value) {
  if (key != "optimizer") unknownOption(pass, key, "optimizer");
  o.optimizer = valueOf(ops::optimizerByName(value), pass, key, "sgd or adamw", value);
}

void setOption(std::string_view pass, passes::RematOptions& o, std::string_view key, std::string_view value) {
  if (key == "every") {
    o.every = valueOf(integerAtLeast(1, value), pass, key, "a positive integer", value);
    return;
  }
  if (key != "mode") unknownOption(pass, key, "mode, every");
  o.mode = valueOf(passes::parseRematMode(value), pass, key, "none, elementwise or blocks", value);
}

void setOption(std::string_view pass, passes::DataParallelOptions& o, std::string_view key, std::string_view value) {
  if (key == "bucket-bytes") {
    o.bucketBytes = valueOf(integerAtLeast(1, value), pass, key, "a positive integer", value);
  } else if (key == "bn-sync") {
    const std::optional<int64_t> flag = value == "0" || value == "1" ? integerAtLeast(0, value) : std::nullopt;
    o.bnSync = valueOf(flag, pass, key, "0 or 1", value) != 0;
  } else {
    unknownOption(pass, key, "bucket-bytes, bn-sync");
  }
}

void setOption(std::string_view pass, passes::PlanMemoryOptions& o, std::string_view key, std::string_view value) {
  if (key == "conv-batch-bytes") {
    o.convBatchBytes = valueOf(integerAtLeast(0, value), pass, key, "a non-negative integer", value);
  } else if (key == "conv-scratch") {
    o.convScratch = valueOf(passes::parseConvScratch(value), pass, key, "im2col, dnnl or winograd", value);
  } else if (key == "winograd-max-bytes") {
    o.winogradMaxBytes = valueOf(integerAtLeast(1, value), pass, key, "a positive integer", value);
  } else {
    unknownOption(pass, key, "conv-batch-bytes, conv-scratch, winograd-max-bytes");
  }
}

void setOption(std::string_view pass, passes::PartitionRowsOptions& o, std::string_view key, std::string_view value) {
  if (key == "strategy") {
    o.strategy = valueOf(passes::parseRowStrategy(value), pass, key, "2ps or overl", value);
  } else if (key == "strips" || key == "bp-strips") {
    (key == "strips" ? o.strips : o.bpStrips) = valueOf(integerAtLeast(1, value), pass, key, "a positive integer", value);
  } else if (key == "per") {
    o.per = valueOf(passes::parsePipelineCounts(value), pass, key, "pipeline/strips pairs separated by ':'", value);
  } else if (key == "strategies") {
    o.strategies = valueOf(passes::parsePipelineStrategies(value), pass, key,
                           "pipeline/2ps|overl pairs separated by ':'", value);
  } else if (key == "reuse" || key == "keep") {
    (key == "reuse" ? o.reuse : o.keep) =
        valueOf(passes::parsePipelineIds(value), pass, key, "pipeline ids separated by ':'", value);
  } else {
    unknownOption(pass, key, "strategy, strips, bp-strips, keep, per, reuse, strategies");
  }
}

// `text` (what stands between the braces, if there are any) read into the pass's options.
template <class Options>
Options readOptions(std::string_view pass, std::optional<std::string_view> text) {
  Options options;
  for (size_t start = 0; text && start <= text->size();) {
    size_t end = text->find(',', start);
    if (end == std::string_view::npos) end = text->size();
    const std::string_view item = text->substr(start, end - start);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0)
      throw ir::Error(cat({"pass '", pass, "': option '", item, "' is not key=value"}));
    setOption(pass, options, item.substr(0, eq), item.substr(eq + 1));
    start = end + 1;
  }
  return options;
}

// The pass `name` (one of passes::passNames()) with its options read from `text`.
std::unique_ptr<passes::Pass> createPass(std::string_view name, std::optional<std::string_view> text) {
#define PASS(NAME, FACTORY)            \
  if (name == NAME) {                  \
    readOptions<NoOptions>(NAME, text); \
    return passes::FACTORY();          \
  }
#define PASS_WITH_OPTIONS(NAME, FACTORY, OPTIONS) \
  if (name == NAME) return passes::FACTORY(readOptions<passes::OPTIONS>(NAME, text));
#include "passes/Passes.def"
  return nullptr;
}

std::vector<std::unique_ptr<passes::Pass>> parsePassPipeline(std::string_view text) {
  const std::vector<std::string_view> names = passes::passNames();
  std::vector<std::unique_ptr<passes::Pass>> pipeline;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = pos;
    while (end < text.size() && text[end] != ',' && text[end] != '{') ++end;
    const std::string_view name = text.substr(pos, end - pos);
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      std::string known;
      for (std::string_view n : names) known += cat({known.empty() ? "" : ", ", n});
      throw ir::Error(cat({"unknown pass '", name, "' (passes: ", known, ")"}));
    }
    std::optional<std::string_view> options;
    if (end < text.size() && text[end] == '{') {
      const size_t close = text.find('}', end);
      if (close == std::string_view::npos) throw ir::Error(cat({"pass '", name, "': missing '}' after its options"}));
      options = text.substr(end + 1, close - end - 1);
      end = close + 1;
      if (end < text.size() && text[end] != ',')
        throw ir::Error(cat({"expected ',' after the options of pass '", name, "'"}));
    }
    pipeline.push_back(createPass(name, options));
    pos = end + 1;
  }
  return pipeline;
}

// --- The tool.

struct Options {
  std::string input;
  std::string passes;  // the pipeline text, checked once up front
  bool splitInputFile = false;
  bool printAfterAll = false;
  std::string output = "-";
};

constexpr const char* kUsage =
    "usage: lrc-opt FILE --passes=NAME[{KEY=VALUE,...}][,NAME...] [--split-input-file] [--print-after-all] [-o OUT]\n"
    "       lrc-opt --list-passes | --help\n"
    "  --passes=...          the passes to run, in order, with their options\n"
    "  --split-input-file    chunks separated by '// -----' run independently\n"
    "  --print-after-all     the module after each pass\n"
    "  -o OUT                the output file (default: stdout)\n";

// A bad command line: one line, the usage only on --help.
[[noreturn]] void usage(const std::string& problem) {
  std::cerr << "lrc-opt: error: " << problem << "\n";
  std::exit(2);
}

Options parseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--passes=", 0) == 0) {
      o.passes = a.substr(9);
    } else if (a == "--split-input-file") {
      o.splitInputFile = true;
    } else if (a == "--print-after-all") {
      o.printAfterAll = true;
    } else if (a == "-o") {
      if (++i >= argc) usage("-o needs a file name");
      o.output = argv[i];
    } else if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      std::exit(0);
    } else if (a == "--list-passes") {
      for (std::string_view name : passes::passNames()) std::cout << name << "\n";
      std::exit(0);
    } else if (!a.empty() && a[0] == '-' && a != "-") {
      usage("unknown option '" + a + "'");
    } else if (o.input.empty()) {
      o.input = a;
    } else {
      usage("more than one input file");
    }
  }
  if (o.input.empty()) usage("no input file");
  try {
    parsePassPipeline(o.passes);
  } catch (const ir::Error& e) {
    usage(e.what());
  }
  return o;
}

// A chunk of the input and the line it starts on (0-based offset added to its lines).
struct Chunk {
  std::string text;
  int lineOffset;
};

std::vector<Chunk> splitChunks(const std::string& text, bool split) {
  if (!split) return {{text, 0}};
  std::vector<Chunk> chunks{{"", 0}};
  std::istringstream in(text);
  int line = 0;
  for (std::string l; std::getline(in, l); ++line) {
    if (l.rfind("// -----", 0) == 0) {
      chunks.push_back({"", line + 1});
      continue;
    }
    chunks.back().text += l + "\n";
  }
  return chunks;
}

std::string runChunk(const Options& o, const Chunk& chunk) {
  std::unique_ptr<ir::Module> m = ir::parseModule(chunk.text);
  // Types are checked after the passes run (infer-shapes may be the one fixing them).
  std::vector<std::unique_ptr<passes::Pass>> pipeline = parsePassPipeline(o.passes);
  ir::verifyModule(*m, /*checkTypes=*/pipeline.empty());
  std::string out;
  for (const std::unique_ptr<passes::Pass>& pass : pipeline) {
    pass->run(*m);
    ir::verifyModule(*m);
    if (o.printAfterAll)
      out += "// -----// IR after " + std::string(pass->name()) + " //----- //\n" + ir::printModule(*m);
  }
  if (!o.printAfterAll) out = ir::printModule(*m);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parseArgs(argc, argv);
  std::string text;
  try {
    text = tools::readFile(o.input);
  } catch (const ir::Error& e) {
    std::cerr << "lrc-opt: error: " << e.what() << "\n";
    return 1;
  }
  std::string result;
  bool failed = false;
  std::vector<Chunk> chunks = splitChunks(text, o.splitInputFile);
  for (size_t i = 0; i < chunks.size(); ++i) {
    try {
      if (i) result += "// -----\n";
      result += runChunk(o, chunks[i]);
    } catch (const ir::Error& e) {
      std::cerr << tools::formatError(o.input, e, chunks[i].lineOffset) << "\n";
      failed = true;
    } catch (const std::exception& e) {
      std::cerr << o.input << ": internal error: " << e.what() << "\n";
      failed = true;
    }
  }
  if (failed) return 1;
  try {
    tools::writeOutput(o.output, result);
  } catch (const ir::Error& e) {
    std::cerr << "lrc-opt: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

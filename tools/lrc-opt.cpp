// lrc-opt FILE --passes=a,b{key=value,...} [--split-input-file] [--print-after-all] [-o OUT]
// Parses IR text, verifies it, runs the named passes in order (verifying after each), and
// prints the result. With --split-input-file, chunks separated by `// -----` are handled
// independently; an error in one chunk is reported and the others still run.
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "ir/Parser.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"
#include "passes/Pass.h"
#include "tools/ToolSupport.h"

using namespace lrc;

namespace {

struct Options {
  std::string input;
  std::string passes;  // the pipeline text, checked once up front
  bool splitInputFile = false;
  bool printAfterAll = false;
  std::string output = "-";
};

[[noreturn]] void usage(const std::string& problem) {
  std::cerr << "lrc-opt: error: " << problem << "\n"
            << "usage: lrc-opt FILE --passes=NAME[{KEY=VALUE,...}][,NAME...] [--split-input-file] "
               "[--print-after-all] [-o OUT]\n";
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
    passes::parsePassPipeline(o.passes);
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
  std::vector<std::unique_ptr<passes::Pass>> pipeline = passes::parsePassPipeline(o.passes);
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
